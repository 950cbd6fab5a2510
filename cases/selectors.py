"""Case reads, scoped to the user: officers see their organization's subtree, applicants their
own cases, and anyone a case on which they hold or held a task, decided one, or was copied."""

from django.db.models import BooleanField, Expression, F, Lookup, Q, QuerySet
from viewflow.workflow.models import Task

from organizations.models import Organization
from organizations.selectors import officer_paths, subtree_q

from .models import Case, CaseCC, TrailEvent

# Set on a Query while it is being counted (see CasesInReach.count).
_COUNTING = "_reach_counting"


class _AnyOf(Lookup):
    """`lhs = ANY(rhs)` with rhs an ARRAY(subquery): an index condition PostgreSQL can combine
    with the others in one bitmap OR. Used as an expression, never registered on a field."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


class _Reach(Expression):
    """The reach condition in two equivalent SQL forms: each arm is a set read once per query
    — `column IN (subquery)` (a hash PostgreSQL probes row by row: good for a page read in
    date order, or one case looked up) or, while counting on PostgreSQL, `column =
    ANY(ARRAY(subquery))` (index conditions merged into one bitmap: the count reads only the
    index entries of the cases in reach, instead of testing every case in the table). A reach
    of a `few` cases (no subtree) uses the index form for its rows too."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, rows, count, few=False):
        super().__init__(output_field=BooleanField())
        self.rows, self.count, self.few = rows, count, few

    def get_source_expressions(self):
        return [self.rows, self.count]

    def set_source_expressions(self, exprs):
        self.rows, self.count = exprs

    def as_sql(self, compiler, connection):
        indexed = connection.vendor == "postgresql" and (
            self.few or getattr(compiler.query, _COUNTING, False)
        )
        return compiler.compile(self.count if indexed else self.rows)


class CasesInReach(QuerySet):
    """Cases of one user's reach. `count()` (the paginators' total) compiles the reach in its
    index form; everything else in its row form."""

    def count(self):
        if self._result_cache is not None:
            return len(self._result_cache)
        query = self.query.chain()
        setattr(query, _COUNTING, True)
        return query.get_count(using=self.db)


def _reach_sets(user):
    """(field, subquery) pairs: the case is in reach when its field is in the subquery's set.
    Each set is read from an index alone."""
    from approvals.models import CaseTask

    sets = []
    paths = officer_paths(user)
    if paths:
        sets.append(("organization_id", Organization.objects.filter(subtree_q(paths)).values("pk")))
    # Held a task: by process, a case's tasks being the tasks of its viewflow process (the
    # link viewflow's locks and our trail already rely on). Asked through our task rows, the
    # owner (viewflow's table) and the case (ours) would need a join of both tables.
    sets.append(("flow_process_id", Task.objects.filter(owner=user).values("process_id")))
    sets.append(("pk", CaseTask.objects.filter(completed_by=user).values("case_id")))
    sets.append(("pk", CaseCC.objects.filter(user=user).values("case_id")))
    return sets


def _reach(user):
    from django.contrib.postgres.expressions import ArraySubquery

    own = Q(applicant=user) | Q(submitted_by=user)
    rows, count = Q(own), Q(own)
    for field, subquery in _reach_sets(user):
        rows |= Q(**{f"{field}__in": subquery})
        count |= Q(_AnyOf(F(field), ArraySubquery(subquery.order_by())))
    # Without a subtree the reach is a few cases (own, copied, acted on): a page of them is
    # found from the indexes and sorted, rather than by walking every case newest first.
    return _Reach(rows, count, few=not officer_paths(user))


def cases_in_reach_q(user):
    """The reach as a condition on cases (row form), e.g. for a subquery correlated on one
    case."""
    if user.is_superuser:
        return Q()
    q = Q(applicant=user) | Q(submitted_by=user)
    for field, subquery in _reach_sets(user):
        q |= Q(**{f"{field}__in": subquery})
    return q


def cases_in_reach(user):
    qs = CasesInReach(model=Case)
    if not user.is_superuser:
        qs = qs.filter(_reach(user))
    return qs.select_related("organization", "applicant", "submitted_by")


def case_in_reach(user, case_id):
    """The case, or None when it does not exist or lies outside the user's reach."""
    return cases_in_reach(user).filter(pk=case_id).first()


def in_reach(user, case):
    """Whether a case already read (with its organization) lies within the user's reach: the
    query of `case_in_reach` only where the row cannot tell — the user's own cases and, for an
    officer, the cases of their subtree are in reach on sight."""
    if user.is_superuser or user.pk in (case.applicant_id, case.submitted_by_id):
        return True
    if any(case.organization.path.startswith(path) for path in officer_paths(user)):
        return True
    return cases_in_reach(user).filter(pk=case.pk).exists()


# Trail events whose author the case's own people are not told: an objection during the
# public notice (公示异议) comes from a fellow member, whom the applicant is not to learn of
# (they are told that an objection was lodged, and its reason).
AUTHOR_WITHHELD = frozenset({"hardship.objection"})


def withholds_authors(user, case):
    """Whether `user` reads `case`'s trail without the authors of AUTHOR_WITHHELD events:
    everyone but the officers and auditors over the case — and never its applicant or
    submitter, even one who is an officer."""
    if user.pk in (case.applicant_id, case.submitted_by_id):
        return True
    return not (
        user.is_superuser
        or any(case.organization.path.startswith(path) for path in officer_paths(user))
    )


def without_author(event):
    """A copy of a trail event without who wrote it and from where (the stored row, which
    verification reads, is untouched)."""
    values = {f.attname: getattr(event, f.attname) for f in TrailEvent._meta.concrete_fields}
    values.update(actor_id=None, actor_role="", on_behalf_of_id=None, source_ip=None)
    event = TrailEvent(**values)
    event.author_withheld = True  # shown as such, not as the system's
    return event


def trail_shown_to(user, case, events):
    """`events` of `case` as `user` may read them: without the authors of AUTHOR_WITHHELD
    events — on those events and on every other one they wrote on the case (the objection's
    own operation cancels the notice and opens the investigation in their name)."""
    if not withholds_authors(user, case):
        return events
    withheld = set(
        TrailEvent.objects.filter(case=case, action__in=AUTHOR_WITHHELD)
        .exclude(actor=None)
        .values_list("actor_id", flat=True)
    )
    return [
        without_author(e) if e.action in AUTHOR_WITHHELD or e.actor_id in withheld else e
        for e in events
    ]


def trail_of(case):
    return (
        TrailEvent.objects.filter(case=case).select_related("actor", "on_behalf_of").order_by("seq")
    )
