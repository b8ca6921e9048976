"""Write eval/reports/split.json: the report set's documents split by document into train,
validation and test, at random with a recorded seed, spread over publishers.

Documents that discuss one another (a review and the government's response to it, a policy and
its operating procedures, an inquiry's brief and its chair's statement, two reviews of one
topic by one team) form a family and go to the same split, so no split learns the content of
another. Families are shuffled within each publisher group, and each group gives the test and
validation splits its quota of families.

    python eval/reports/make_split.py      # rewrites split.json; the same seed gives the same split
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261201
HERE = Path(__file__).resolve().parent

# publisher group -> families -> documents (file names in ../shared/data/reports)
GROUPS: dict[str, dict[str, list[str]]] = {
    "central government and parliament": {
        "dhsc-mh-inpatient-data": ["dhsc-mh-inpatient-data-review-2024.pdf", "dhsc-mh-inpatient-data-response-2024.pdf"],
        "commons-infected-blood": ["commons-infected-blood-recs-2025.pdf"],
        "covid-inquiry-m2": ["covid-inquiry-m2-in-brief-2025.pdf", "covid-inquiry-m2-chair-statement-2025.pdf"],
        "hmrc-risk-triggers": ["hmrc-risk-triggers-research-361-2015.pdf"],
    },
    "NHS England and NHS bodies": {
        "nhse-analystx": ["nhse-analystx-workforce-survey-2022.pdf"],
        "nhse-data-engagement": ["nhse-data-engagement-cohort2-2025.pdf"],
        "nhse-ifr": ["nhse-ifr-commissioning-policy-2023.pdf", "nhse-ifr-sops-2023.pdf"],
        "nhse-neighbourhood-health": ["nhse-neighbourhood-health-guidelines-2025.md"],
        "hee-data-driven-healthcare": ["hee-data-driven-healthcare-2030-summary-2021.pdf"],
        "tphc-digital-data": ["tphc-digital-data-impact-2023-24.pdf"],
        "cpicb-constitution": ["cpicb-constitution-2025.docx"],
    },
    "local public health and commissioned research": {
        "icpr-hmp-ford": ["icpr-hmp-ford-health-needs-2010.pdf"],
        "wscc-homelessness": ["wscc-homelessness-deaths-review-2024.pdf", "wscc-homelessness-health-rapid-review-2024.pdf"],
        "wscc-dap-community-fund": ["wscc-dap-community-fund-evaluation-2026.pdf"],
        "wscc-social-care-demand": ["wscc-social-care-demand-2015.pdf"],
        "wscc-self-harm": ["wscc-self-harm-needs-2019.pdf"],
        "wscc-suicide-audit": ["wscc-suicide-audit-2017.pdf"],
        "wscc-dementia-strategy": ["wscc-dementia-strategy-2020.pdf"],
        "wscc-public-mh-cohorts": ["wscc-public-mh-needs-cohorts-2024.pdf"],
        "wscc-drug-deaths": ["wscc-drug-deaths-audit-2019.pdf"],
        "wscc-future-dependency": ["wscc-future-dependency-2024.docx"],
        "wscc-eye-health": ["wscc-eye-health-briefing-2013.docx"],
        "wsjsna-coastal-mental-health": ["wsjsna-coastal-mental-health.html"],
        "sussex-veterans": ["sussex-veterans-health-needs-2012.pdf"],
    },
    "media": {
        "bbc-social-care": ["bbc-social-care-in-crisis.pdf"],
    },
}
# Families each group gives to (test, validation); the rest train.
QUOTAS = {
    "central government and parliament": (1, 1),
    "NHS England and NHS bodies": (2, 1),
    "local public health and commissioned research": (2, 3),
    "media": (0, 0),
}


def make_split() -> dict:
    rng = random.Random(SEED)
    splits: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    families: dict[str, list[str]] = {}
    for group, members in GROUPS.items():
        names = sorted(members)
        rng.shuffle(names)
        test, validation = QUOTAS[group]
        for position, family in enumerate(names):
            split = "test" if position < test else "validation" if position < test + validation else "train"
            splits[split].extend(members[family])
            families[family] = members[family]
    return {
        "seed": SEED,
        "method": "eval/reports/make_split.py: families of related documents shuffled within each publisher group "
        "(random.Random(seed)), each group giving its quota of families to test and validation",
        "quotas": {group: {"test": t, "validation": v} for group, (t, v) in QUOTAS.items()},
        "families": families,
        **{name: sorted(docs) for name, docs in splits.items()},
    }


if __name__ == "__main__":
    split = make_split()
    (HERE / "split.json").write_text(json.dumps(split, indent=2) + "\n", encoding="utf-8")
    for name in ("train", "validation", "test"):
        print(name, len(split[name]), split[name])
