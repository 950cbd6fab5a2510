"""The demo union tree and one user per role (README lists them)."""

from django.db import transaction

from .models import Membership, Organization, OrganizationKind, Role, User

DEMO_PASSWORD = "demo-pass-2026"

COUNTY = "示范县总工会"
DONGHU = "东湖镇总工会"
XISHAN = "西山镇总工会"
DONGHU_MACHINERY = "东湖机械厂工会"
DONGHU_TEXTILE = "东湖纺织公司工会"
XISHAN_FOOD = "西山食品厂工会"

# (name, kind, parent name)
TREE = [
    (COUNTY, OrganizationKind.COUNTY, None),
    (DONGHU, OrganizationKind.TOWN, COUNTY),
    (XISHAN, OrganizationKind.TOWN, COUNTY),
    (DONGHU_MACHINERY, OrganizationKind.GRASSROOTS, DONGHU),
    (DONGHU_TEXTILE, OrganizationKind.GRASSROOTS, DONGHU),
    (XISHAN_FOOD, OrganizationKind.GRASSROOTS, XISHAN),
]

# (username, full name, organization, roles)
USERS = [
    ("county_aid", "李帮扶", COUNTY, [Role.AID_OFFICER]),
    ("county_finance", "王会计", COUNTY, [Role.FINANCE_OFFICER]),
    ("county_auditor", "赵审查", COUNTY, [Role.AUDITOR]),
    ("admin", "系统管理员", COUNTY, [Role.ADMIN]),
    ("town_aid1", "陈干事", DONGHU, [Role.AID_OFFICER]),
    ("town_aid2", "刘干事", DONGHU, [Role.AID_OFFICER]),
    ("town_finance", "周出纳", DONGHU, [Role.FINANCE_OFFICER]),
    ("med_head", "吴室长", DONGHU, [Role.MEDIATION_HEAD]),
    ("mediator1", "郑调解", DONGHU, [Role.MEDIATOR]),
    ("mediator2", "孙调解", DONGHU, [Role.MEDIATOR]),
    ("town_auditor", "钱审查", DONGHU, [Role.AUDITOR]),
    ("chair1", "张主席", DONGHU_MACHINERY, [Role.CHAIR, Role.MEMBER]),
    ("treasurer1", "冯财务", DONGHU_MACHINERY, [Role.TREASURER]),
    ("worker1", "杨工人", DONGHU_MACHINERY, [Role.MEMBER]),
    ("worker2", "朱工人", DONGHU_MACHINERY, [Role.MEMBER]),
    ("chair2", "何主席", DONGHU_TEXTILE, [Role.CHAIR]),
    ("treasurer2", "吕财务", DONGHU_TEXTILE, [Role.TREASURER]),
    ("worker3", "施工人", DONGHU_TEXTILE, [Role.MEMBER]),
    ("xs_aid1", "许干事", XISHAN, [Role.AID_OFFICER]),
    ("xs_aid2", "韩干事", XISHAN, [Role.AID_OFFICER]),
    ("xs_finance", "秦出纳", XISHAN, [Role.FINANCE_OFFICER]),
    ("xs_med_head", "尤室长", XISHAN, [Role.MEDIATION_HEAD]),
    ("xs_mediator", "严调解", XISHAN, [Role.MEDIATOR]),
    ("chair3", "华主席", XISHAN_FOOD, [Role.CHAIR]),
    ("treasurer3", "金财务", XISHAN_FOOD, [Role.TREASURER]),
    ("worker4", "魏工人", XISHAN_FOOD, [Role.MEMBER]),
]


@transaction.atomic
def seed_demo(password=DEMO_PASSWORD):
    """Create (or bring back to the demo state) the tree and the users. Idempotent."""
    orgs = {}
    for name, kind, parent_name in TREE:
        org = Organization.objects.filter(name=name).first()
        if org is None:
            if parent_name is None:
                org = Organization.objects.add_root({"name": name, "kind": kind})
            else:
                org = Organization.objects.add_child(
                    orgs[parent_name], {"name": name, "kind": kind}
                )
        orgs[name] = org
    users = []
    for username, full_name, org_name, roles in USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"full_name": full_name, "email": f"{username}@demo.unionflow.local"},
        )
        if created or not user.check_password(password):
            user.set_password(password)
        user.full_name = full_name
        user.is_active = True
        if username == "admin":
            user.is_staff = user.is_superuser = True
        user.save()
        for role in roles:
            Membership.objects.get_or_create(user=user, organization=orgs[org_name], role=role)
        users.append((username, full_name, org_name, roles))
    return orgs, users
