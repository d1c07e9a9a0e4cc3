#!/usr/bin/env bash
# The main job: the bundled B2B SaaS what-if study. Runs the baseline and its four variants
# (same seed, so common random numbers pair them) into one new HDF5 study under results/ and
# prints each summary. Extra arguments go to every `lcsim run` (e.g. --replications 50).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash tools/setup.sh
mkdir -p results
study="results/b2b_saas-$(date -u +%Y%m%d-%H%M%S).h5"
for scenario in baseline webinar_for_mqls faster_follow_up reengagement_campaign loyalty_programme; do
  echo
  echo "== $scenario =="
  .venv/bin/lcsim run "scenarios/b2b_saas/$scenario.yaml" --out "$study" --name "$scenario" "$@"
done
echo
echo "study written to $study (runs: baseline, webinar_for_mqls, faster_follow_up, reengagement_campaign, loyalty_programme)"
