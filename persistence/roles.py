"""Least-privilege PostgreSQL roles for a care team and its auditors (`crs roles`; HAZARDS H18).

Two NOLOGIN group roles; people get one with `GRANT crs_clinician TO alice` and connect as themselves,
so the server's `session_user` is the login each event and refusal records (the 0003 insert triggers
refuse any other):

- `crs_auditor` reads: CONNECT, USAGE on the schema, SELECT on every crs table. Nothing else.
- `crs_clinician` records steps and no more: what `crs_auditor` has, INSERT on episode, event and
  refusal (and USAGE on refusal's id sequence), and UPDATE on only the episode columns a step
  changes. No UPDATE, DELETE or TRUNCATE on event or refusal, no TRIGGER or REFERENCES, no DDL: it
  owns nothing, so it cannot drop or disable a trigger. It can rewrite the `episode` row (a step
  must), which is why a step checks the snapshot against its head event (HAZARDS H15).

`apply_roles` makes the catalogue say exactly that for these two roles on the crs objects: it
creates what is missing, revokes what is more (a privilege, a grant option, a membership in another
role, a LOGIN or SUPERUSER attribute), grants what is missing, and reports each change in a sentence;
a second run finds nothing to change and says so. It reads the ACLs themselves (aclexplode), not
`has_table_privilege`, because what counts is what was granted to the role, not what PUBLIC also has.
It refuses (exit 2) where it cannot make the roles least-privilege by itself: a group role that owns
something, a login that does not exist. Roles are server-wide; the grants are per database, so run it
once in each crs database (and again after each `crs upgrade`, which may add tables).
"""

import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from pathway.errors import Conflict, Invalid
from persistence.database import Database, DatabaseError, DatabaseUrl, Reader

AUDITOR, CLINICIAN = "crs_auditor", "crs_clinician"
GROUP_ROLES = (AUDITOR, CLINICIAN)
#: Every table the crs schema has (a test checks this against persistence/tables.py and the migrations).
TABLES = ("episode", "event", "refusal", "alembic_version")
#: The episode columns a step rewrites (persistence/unit_of_work.py _UPDATE_EPISODE), and no others.
STEP_COLUMNS = ("state", "version", "updated_at", "snapshot", "head_hash")
#: The role attributes a group role must not have (pg_roles column -> the ALTER ROLE keyword that clears it).
_ATTRIBUTES = {"rolcanlogin": "NOLOGIN", "rolsuper": "NOSUPERUSER", "rolcreatedb": "NOCREATEDB",
               "rolcreaterole": "NOCREATEROLE", "rolreplication": "NOREPLICATION", "rolbypassrls": "NOBYPASSRLS"}
_LOCK = 0x63727372  # "crsr": one `crs roles` at a time on a server
_PUBLIC = 0  # the grantee oid aclexplode gives PUBLIC
_CONFLICT_STATES = {"40001", "40P01", "55P03", "42710", "23505"}  # raced: serialization, deadlock, lock, duplicate

_SCHEMA = ("SELECT n.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "WHERE c.oid = to_regclass('alembic_version')")
_TABLES_IN = "SELECT relname FROM pg_class WHERE relnamespace = :ns AND relkind IN ('r', 'p') AND relname = ANY(:names)"
_SEQUENCE = "SELECT pg_get_serial_sequence(:table, 'id')"
_ROLE = ("SELECT oid, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
         "FROM pg_roles WHERE rolname = :name")
_RELATION_ACL = ("SELECT c.relname, c.relkind, x.privilege_type, x.is_grantable FROM pg_class c "
                 "CROSS JOIN LATERAL aclexplode(c.relacl) x "
                 "WHERE c.relnamespace = :ns AND c.relname = ANY(:names) AND x.grantee = :role")
_COLUMN_ACL = ("SELECT c.relname, a.attname, x.privilege_type, x.is_grantable FROM pg_attribute a "
               "JOIN pg_class c ON c.oid = a.attrelid CROSS JOIN LATERAL aclexplode(a.attacl) x "
               "WHERE c.relnamespace = :ns AND c.relname = ANY(:names) AND a.attnum > 0 AND NOT a.attisdropped "
               "AND x.grantee = :role")
_SCHEMA_ACL = ("SELECT n.nspname, x.privilege_type, x.is_grantable FROM pg_namespace n "
               "CROSS JOIN LATERAL aclexplode(n.nspacl) x WHERE n.oid = :ns AND x.grantee = :role")
_DATABASE_ACL = ("SELECT d.datname, x.privilege_type, x.is_grantable FROM pg_database d "
                 "CROSS JOIN LATERAL aclexplode(d.datacl) x WHERE d.datname = current_database() AND x.grantee = :role")
_MEMBER_OF = ("SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
              "WHERE m.member = :role ORDER BY g.rolname")
_MEMBERS = ("SELECT p.rolname FROM pg_auth_members m JOIN pg_roles p ON p.oid = m.member "
            "WHERE m.roleid = :role ORDER BY p.rolname")
_IS_MEMBER = "SELECT 1 FROM pg_auth_members WHERE roleid = :role AND member = :person"
_OWNS = ("SELECT kind, name FROM ("
         " SELECT 1 AS k, 'relation' AS kind, relname::text AS name FROM pg_class WHERE relowner = :role"
         " UNION ALL SELECT 2, 'schema', nspname::text FROM pg_namespace WHERE nspowner = :role"
         " UNION ALL SELECT 3, 'function', proname::text FROM pg_proc WHERE proowner = :role"
         " UNION ALL SELECT 4, 'database', datname::text FROM pg_database WHERE datdba = :role"
         ") owned ORDER BY k, name LIMIT 1")
_OWNER_OF_TABLES = ("SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                    "WHERE c.oid = to_regclass('event')")
#: Whether this session may change the grants: a superuser, or (a member of) the owner of the crs tables. A
#: GRANT by anyone else is not an error in PostgreSQL, only a warning that nothing was granted.
_MAY_MANAGE = ("SELECT r.rolsuper OR pg_has_role(session_user, c.relowner, 'USAGE') FROM pg_roles r, pg_class c "
               "WHERE r.rolname = session_user AND c.oid = to_regclass('event')")


@dataclass(frozen=True)
class Privilege:
    """One privilege held directly by a role on one crs object (column: a column privilege on `target`)."""

    kind: str  # database | schema | table | sequence
    target: str
    privilege: str
    column: str | None = None
    grantable: bool = False

    def key(self) -> tuple[str, str, str, str, bool]:
        """The order reports list privileges in (a table-level one before its column ones)."""
        return self.kind, self.target, self.privilege, self.column or "", self.grantable

    def plain(self) -> "Privilege":
        """The same privilege without its grant option (what the roles should hold)."""
        return Privilege(self.kind, self.target, self.privilege, self.column)

    def describe(self) -> str:
        """`UPDATE (state) on table episode`: how the report names it."""
        what = f"{self.privilege} ({self.column})" if self.column else self.privilege
        return f"{what} on {self.kind} {self.target}" + (" WITH GRANT OPTION" if self.grantable else "")


@dataclass
class RolesReport:
    """What `crs roles` found and did on one PostgreSQL database."""

    database: str
    login: str
    schema: str
    roles: dict[str, list[str]] = field(default_factory=dict)  # role -> the privileges it holds afterwards
    members: dict[str, list[str]] = field(default_factory=dict)  # role -> the logins that are its members
    changes: list[str] = field(default_factory=list)  # one sentence per change, in the order made
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"database": self.database, "backend": "postgresql", "login": self.login, "schema": self.schema,
                "changed": bool(self.changes), "changes": self.changes, "roles": self.roles,
                "members": self.members, "warnings": self.warnings}


def wanted(schema: str, database: str, sequence: str | None) -> dict[str, frozenset[Privilege]]:
    """Exactly what each group role must hold on the crs objects, and nothing else."""
    reading = {Privilege("database", database, "CONNECT"), Privilege("schema", schema, "USAGE"),
               *(Privilege("table", table, "SELECT") for table in TABLES)}
    stepping = {*(Privilege("table", table, "INSERT") for table in ("episode", "event", "refusal")),
                *(Privilege("table", "episode", "UPDATE", column) for column in STEP_COLUMNS)}
    if sequence is not None:
        stepping.add(Privilege("sequence", sequence, "USAGE"))
    return {AUDITOR: frozenset(reading), CLINICIAN: frozenset(reading | stepping)}


def quote(name: str) -> str:
    """An identifier, always double-quoted (role and object names are never spliced in raw)."""
    return '"' + name.replace('"', '""') + '"'


class _Catalog:
    """The crs objects of one database and what the two group roles hold on them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        located = conn.execute(text(_SCHEMA)).first()
        if located is None:
            raise Invalid("the database has no crs schema yet; run `crs upgrade` as its owner first, then `crs roles`")
        self.namespace, self.schema = int(located[0]), str(located[1])
        self.database = str(conn.execute(text("SELECT current_database()")).scalar())
        found = set(conn.execute(text(_TABLES_IN), {"ns": self.namespace, "names": list(TABLES)}).scalars())
        missing = [table for table in TABLES if table not in found]
        if missing:
            raise Invalid(f"the crs schema in {self.schema} has no table {missing[0]}; run `crs upgrade` first, "
                          "then `crs roles`")
        qualified = conn.execute(text(_SEQUENCE), {"table": f"{quote(self.schema)}.refusal"}).scalar()
        self.sequence = str(qualified).rsplit(".", 1)[-1].strip('"') if qualified else None
        self.wanted = wanted(self.schema, self.database, self.sequence)
        self.login = str(conn.execute(text("SELECT session_user")).scalar())
        self.may_manage = bool(conn.execute(text(_MAY_MANAGE)).scalar())

    def change(self, statement: str) -> None:
        """Run one statement that changes a role or a grant, if this login may (else one sentence, exit 2)."""
        if not self.may_manage:
            raise Invalid(f"the database login '{self.login}' may not set up the crs roles (it is neither the owner "
                          "of the crs tables nor a superuser); run `crs roles` as the login that ran `crs upgrade`; "
                          "nothing was changed")
        self.conn.exec_driver_sql(statement)

    def role(self, name: str) -> Any:
        return self.conn.execute(text(_ROLE), {"name": name}).first()

    def held(self, role_oid: int) -> set[Privilege]:
        """Every privilege granted to the role itself on a crs object (not through PUBLIC or a membership)."""
        names = [*TABLES, *([self.sequence] if self.sequence else [])]
        params = {"ns": self.namespace, "names": names, "role": role_oid}
        held: set[Privilege] = set()
        for relname, relkind, privilege, grantable in self.conn.execute(text(_RELATION_ACL), params):
            held.add(Privilege("sequence" if relkind == "S" else "table", relname, privilege, None, grantable))
        for relname, column, privilege, grantable in self.conn.execute(text(_COLUMN_ACL), params):
            held.add(Privilege("table", relname, privilege, column, grantable))
        for nspname, privilege, grantable in self.conn.execute(text(_SCHEMA_ACL), params):
            held.add(Privilege("schema", nspname, privilege, None, grantable))
        for datname, privilege, grantable in self.conn.execute(text(_DATABASE_ACL), {"role": role_oid}):
            held.add(Privilege("database", datname, privilege, None, grantable))
        return held

    def on(self, privilege: Privilege) -> str:
        """The object clause of GRANT/REVOKE for a privilege."""
        if privilege.kind == "database":
            return f"DATABASE {quote(privilege.target)}"
        if privilege.kind == "schema":
            return f"SCHEMA {quote(privilege.target)}"
        keyword = "SEQUENCE" if privilege.kind == "sequence" else "TABLE"
        return f"{keyword} {quote(self.schema)}.{quote(privilege.target)}"

    def statement(self, verb: str, privilege: Privilege, role: str) -> str:
        what = privilege.privilege + (f" ({quote(privilege.column)})" if privilege.column else "")
        on = self.on(privilege)
        if verb == "GRANT":
            return f"GRANT {what} ON {on} TO {quote(role)}"
        if verb == "REVOKE GRANT OPTION":
            return f"REVOKE GRANT OPTION FOR {what} ON {on} FROM {quote(role)}"
        return f"REVOKE {what} ON {on} FROM {quote(role)}"


def _plan(catalog: _Catalog, role: str, held: set[Privilege]) -> list[tuple[str, str]]:
    """(statement, sentence) pairs that bring `held` to exactly what `role` should hold: revokes first (a
    table-level REVOKE also takes the column privileges of its kind, so grants come after)."""
    goal = catalog.wanted[role]
    steps: list[tuple[str, str]] = []
    for privilege in sorted(held, key=Privilege.key):
        plain = privilege.plain()
        if plain not in goal:
            steps.append((catalog.statement("REVOKE", plain, role), f"revoked {plain.describe()} from {role}"))
        elif privilege.grantable:
            steps.append((catalog.statement("REVOKE GRANT OPTION", plain, role),
                          f"revoked the grant option of {plain.describe()} from {role}"))
    have = {privilege.plain() for privilege in held}
    for privilege in sorted(goal - have, key=Privilege.key):
        steps.append((catalog.statement("GRANT", privilege, role), f"granted {privilege.describe()} to {role}"))
    return steps


def _group_role(catalog: _Catalog, role: str, changes: list[str]) -> int:
    """Create the group role, or make an existing one a plain NOLOGIN role that owns nothing and is a member of
    nothing; its oid."""
    conn = catalog.conn
    row = catalog.role(role)
    if row is None:
        catalog.change(f"CREATE ROLE {quote(role)} NOLOGIN")
        changes.append(f"created the group role {role} (NOLOGIN)")
        row = catalog.role(role)
    oid = int(row[0])
    wrong = [keyword for column, keyword in _ATTRIBUTES.items() if row._mapping[column]]
    if wrong:
        catalog.change(f"ALTER ROLE {quote(role)} {' '.join(wrong)}")
        changes.append(f"made {role} a plain group role ({', '.join(wrong)})")
    for other in conn.execute(text(_MEMBER_OF), {"role": oid}).scalars().all():
        catalog.change(f"REVOKE {quote(other)} FROM {quote(role)}")
        changes.append(f"revoked the membership of {role} in {other} (it gave more than {role} may have)")
    owned = conn.execute(text(_OWNS), {"role": oid}).first()
    if owned is not None:
        raise Invalid(f"the group role {role} owns the {owned[0]} {owned[1]}, and an owner can drop or disable the "
                      f"crs triggers; give it to another role (ALTER ... OWNER TO) or drop it, then run `crs roles` "
                      "again; nothing was changed")
    return oid


def _converge(catalog: _Catalog, role: str, oid: int, changes: list[str]) -> set[Privilege]:
    """Apply the plan until the role holds exactly what it should; what it holds then."""
    for _ in range(3):  # a second round only after a table-level REVOKE took column privileges with it
        held = catalog.held(oid)
        steps = _plan(catalog, role, held)
        if not steps:
            return held
        for statement, sentence in steps:
            catalog.change(statement)
            changes.append(sentence)
    left = sorted(catalog.held(oid) ^ catalog.wanted[role], key=Privilege.key)
    raise Invalid(f"{role} still holds {left[0].describe()} after `crs roles` revoked it (granted by another "
                  "role, which must revoke it itself); nothing was changed")


def _give(catalog: _Catalog, role: str, role_oid: int, people: Sequence[str], report: RolesReport) -> None:
    """Make each login a member of `role` (GRANT role TO login), checking it exists first."""
    conn = catalog.conn
    owner = conn.execute(text(_OWNER_OF_TABLES)).scalar()
    for person in people:
        if person in GROUP_ROLES:
            raise Invalid(f"{person} is one of the crs group roles; grant them to people's own logins; "
                          "nothing was changed")
        row = catalog.role(person)
        if row is None:
            raise Invalid(f"there is no database login '{person}' on this server (names are case-sensitive); "
                          "create it first (CREATE ROLE ... LOGIN), then run `crs roles` again; nothing was changed")
        person_oid = int(row[0])
        if conn.execute(text(_IS_MEMBER), {"role": role_oid, "person": person_oid}).first() is None:
            catalog.change(f"GRANT {quote(role)} TO {quote(person)}")
            report.changes.append(f"granted {role} to the login {person}")
        if row._mapping["rolsuper"]:
            report.warnings.append(f"the login {person} is a superuser: no role limits what it can do")
        elif person == owner:
            report.warnings.append(f"the login {person} owns the crs tables: it can drop the triggers whatever "
                                   "role it is given; record steps with a login of its own")
        if not row._mapping["rolcanlogin"]:
            report.warnings.append(f"{person} cannot log in (NOLOGIN): give it LOGIN, or grant the role to a login")


def _public_warnings(catalog: _Catalog) -> list[str]:
    """Grants to PUBLIC (every login) that undo least privilege; reported, not changed (they are not ours)."""
    warnings = []
    public = catalog.held(_PUBLIC)
    for privilege in sorted(public, key=Privilege.key):
        if privilege.kind in ("table", "sequence"):
            warnings.append(f"PUBLIC (every login) holds {privilege.describe()}: REVOKE it FROM PUBLIC")
        elif privilege.kind == "schema" and privilege.privilege == "CREATE":
            warnings.append(f"every login may create objects in schema {privilege.target} (the default before "
                            f"PostgreSQL 15): REVOKE CREATE ON SCHEMA {quote(privilege.target)} FROM PUBLIC")
    return warnings


def apply_roles(conn: Connection, database: str, *, clinicians: Sequence[str] = (),
                auditors: Sequence[str] = ()) -> RolesReport:
    """Bring the two group roles to exactly their privileges in this database and grant them to the named
    logins, in the caller's transaction (which commits it). `database` is the URL shown in the report."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    catalog = _Catalog(conn)
    report = RolesReport(database=database, login=catalog.login, schema=catalog.schema)
    oids = {role: _group_role(catalog, role, report.changes) for role in GROUP_ROLES}
    for role in GROUP_ROLES:
        held = _converge(catalog, role, oids[role], report.changes)
        report.roles[role] = [privilege.describe() for privilege in sorted(held, key=Privilege.key)]
    _give(catalog, CLINICIAN, oids[CLINICIAN], clinicians, report)
    _give(catalog, AUDITOR, oids[AUDITOR], auditors, report)
    for role in GROUP_ROLES:
        report.members[role] = list(conn.execute(text(_MEMBERS), {"role": oids[role]}).scalars())
    report.warnings[:0] = _public_warnings(catalog)
    return report


def set_up(url: DatabaseUrl, *, clinicians: Sequence[str] = (), auditors: Sequence[str] = ()) -> RolesReport:
    """`crs roles` on a PostgreSQL URL: one transaction, committed only if every step of it succeeded."""
    from persistence.schema import HEAD, KNOWN_REVISIONS, NEWER, current_revision

    shown = url.render_as_string(hide_password=True)
    database = Database(url, read_only=False, timeout_s=10.0)
    engine = database.sqlalchemy_engine()
    login = url.username or "?"
    try:
        with engine.connect() as conn:
            login = str(conn.execute(text("SELECT session_user")).scalar())
            revision = current_revision(Reader(database, conn.connection.driver_connection.cursor()))  # type: ignore[union-attr]
            if revision is not None and revision not in KNOWN_REVISIONS:
                raise Invalid(NEWER)
            if revision != HEAD:
                found = "no crs schema" if revision is None else f"schema {revision}"
                raise Invalid(f"the database has {found} (this crs uses {HEAD}); run `crs upgrade` as its owner "
                              "first, then `crs roles`; nothing was changed")
            report = apply_roles(conn, shown, clinicians=clinicians, auditors=auditors)
            conn.commit()
            return report
    except DBAPIError as exc:
        raise _failure(exc.orig, exc.connection_invalidated, url, login) from None
    except DatabaseError as exc:  # refused at connect (the connections are persistence/database.py's)
        raise _failure(exc.orig, False, url, login) from None
    finally:
        engine.dispose()


def _failure(orig: BaseException | None, invalidated: bool, url: DatabaseUrl, login: str) -> Exception:
    """A driver error during `crs roles` as one sentence (nothing was committed)."""
    state = getattr(orig, "sqlstate", None)
    if state == "42501":
        detail = str(orig).splitlines()[0] if orig is not None else "permission denied"
        return Invalid(f"the database login '{login}' may not set up the crs roles ({detail}); run `crs roles` as "
                       "the owner of the crs tables (the login that ran `crs upgrade`) with CREATEROLE, or as a "
                       "superuser; nothing was changed")
    if state in _CONFLICT_STATES:
        return Conflict("another `crs roles` or a step held what this one needed; nothing was changed, retry")
    where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    said = str(orig).lower() if orig is not None else ""
    if "permission denied for database" in said or "connect privilege" in said:  # refused at connect: no state
        return Invalid(f"the database login '{login}' may not set up the crs roles (it may not even connect to "
                       f"{where}); run `crs roles` as the login that ran `crs upgrade`; nothing was changed")
    if "authentication failed" in said:
        return Invalid(f"the server at {where} did not accept the login '{login}' (authentication failed); check "
                       "the user name and its password (~/.pgpass or PGPASSWORD)")
    if invalidated or state is None or state.startswith("08"):
        return Invalid(f"cannot open the PostgreSQL database {where}; check that the server runs and the URL is right")
    detail = str(orig).splitlines()[0] if orig is not None else "unknown error"
    return Invalid(f"the crs roles could not be set up ({detail}); nothing was changed")


def sqlite_file(path: Path) -> dict[str, Any]:
    """SQLite has no roles: the database file's and folder's permissions are the control. What they are, and a
    warning for each that lets every user of the machine read or write the record (nothing is changed)."""
    found: dict[str, Any] = {"path": str(path), "mode": None, "folder_mode": None, "warnings": []}
    try:
        folder = path.parent.stat()
        found["folder_mode"] = f"{stat.S_IMODE(folder.st_mode):04o}"
        if folder.st_mode & stat.S_IWOTH and not folder.st_mode & stat.S_ISVTX:
            found["warnings"].append(f"every user of this machine may create and delete files in {path.parent} "
                                     "(chmod o-w it)")
        info = path.stat()
    except OSError:  # no file yet, or a folder this user cannot see into: nothing to say about it
        return found
    mode = stat.S_IMODE(info.st_mode)
    found["mode"] = f"{mode:04o}"
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        found["warnings"].append(f"every user of this machine may {'write' if mode & stat.S_IWOTH else 'read'} the "
                                 f"database (mode {mode:04o}): chmod o-rwx {path}")
    return found
