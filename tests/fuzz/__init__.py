# The roles both fuzzers act as: anonymous, then one demo user of each kind.
ROLES = [
    None,
    "worker1",
    "chair1",
    "treasurer1",
    "town_aid1",
    "town_finance",
    "med_head",
    "mediator1",
    "town_auditor",
    "county_auditor",
    "admin",
]
