#!/usr/bin/env bash
# The main job: the bundled what-if studies. Compares the B2B SaaS baseline with its four variants
# (webinar for MQLs, faster follow-up, re-engagement campaign, loyalty programme), then the sales-team
# baseline (a team of reps with a queue, hand-off, patience and referrals) with its three variants
# (two more reps, 4-hour response SLA, referral programme), on paired replications with common random
# numbers; prints each variant's verdict, deltas with 95% CIs and who changed, and stores runs and
# comparisons in a new HDF5 study under results/, and writes results/report.html (the study as one
# self-contained page for someone who does not read code).
# Extra arguments go to `lcsim compare` (e.g. --replications 50 or --precision 0.02).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/setup.sh run
mkdir -p results
study="results/b2b_saas-$(date -u +%Y%m%d-%H%M%S).h5"
dir=scenarios/b2b_saas
.venv/bin/lcsim compare "$dir/baseline.yaml" "$dir/webinar_for_mqls.yaml" "$dir/faster_follow_up.yaml" \
  "$dir/reengagement_campaign.yaml" "$dir/loyalty_programme.yaml" --out "$study" --name b2b_whatif "$@"
team=scenarios/sales_team
.venv/bin/lcsim compare "$team/baseline.yaml" "$team/two_more_reps.yaml" "$team/four_hour_sla.yaml" \
  "$team/referral_programme.yaml" --out "$study" --name sales_team_whatif "$@"
# The page to forward: every comparison of the study, self-contained (it opens offline).
.venv/bin/lcsim report "$study" --out results/report.html --title "lcsim what-if: B2B SaaS and sales team"
echo
echo "study written to $study: comparisons 'b2b_whatif' (runs b2b_whatif.base, .v1 .. .v4) and"
echo "'sales_team_whatif' (runs sales_team_whatif.base, .v1 .. .v3)"
echo "read it with: .venv/bin/python -c \"import lcsim; print(lcsim.open('$study').comparison('b2b_whatif').deltas())\""
