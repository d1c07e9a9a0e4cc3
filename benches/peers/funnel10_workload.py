"""The funnel-10 reference workload (benches/funnel10/*.yaml), shared by the peers."""

STAGES = [
    "awareness",
    "engaged",
    "lead",
    "mql",
    "sql",
    "customer",
    "loyal",
    "advocate",
    "lost",
    "churned",
]
HORIZON = 730.0
MEAN_DWELL = {
    "awareness": 3,
    "engaged": 5,
    "lead": 7,
    "mql": 10,
    "sql": 14,
    "customer": 90,
    "loyal": 180,
    "advocate": 365,
}
NEXT = {
    "awareness": {"engaged": 0.30, "lost": 0.70},
    "engaged": {"lead": 0.40, "awareness": 0.10, "lost": 0.50},
    "lead": {"mql": 0.45, "engaged": 0.15, "lost": 0.40},
    "mql": {"sql": 0.35, "lead": 0.20, "lost": 0.45},
    "sql": {"customer": 0.30, "mql": 0.25, "lost": 0.45},
    "customer": {"loyal": 0.60, "churned": 0.40},
    "loyal": {"advocate": 0.20, "customer": 0.10, "churned": 0.70},
    "advocate": {"loyal": 0.50, "churned": 0.50},
}
WEBINAR_EVERY = 7.0  # days 7, 14, 21, ...
WEBINAR_REACH = 0.25
WEBINAR_MOVE = 0.2
