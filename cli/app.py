"""The `crs` app: global options, the commands of CONTRACT.md, and the one error -> exit-code boundary.

Every exception ends in `CrsGroup.main`, which asks cli/errors.py for the exit code and prints
one JSON object (with --json anywhere on the line) or one plain sentence on stderr.
"""

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from cli import coercion, values
from cli.command import CrsCommand, CrsSubgroup
from cli.commands import audit, corrections, demo, describe, fhir, info, queries, roles, steps, upgrade
from cli.context import Settings, crs_version, default_actor

HELP = (
    "An executable clinical pathway for cytokine release syndrome (CRS): graded observations, guarded "
    "steps, hash-chained history. It supports, and does not replace, clinical judgement."
)


class CrsGroup(CrsSubgroup):
    """Runs the app without Click's own error printing, so errors follow the contract exactly.

    Built once per process (by `main` and by Typer's test runner alike), it gives the plain
    parameters of every command a coercion that needs no pydantic (cli/coercion.py), so commands
    that need no pydantic, like `crs pathway`, never load it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        coercion.install(self)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        from typer._click.exceptions import NoArgsIsHelpError

        if os.environ.get("_CRS_COMPLETE"):  # the shell asks for completions: Typer's shells, loaded only then
            from typer.completion import completion_init

            completion_init()
        argv = hoist_global_options(self, list(sys.argv[1:] if args is None else args))
        as_json = "--json" in argv
        try:
            result = super().main(args=argv or ["--help"], prog_name=prog_name or "crs",
                                  complete_var=complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        except NoArgsIsHelpError as shown_help:  # `crs audit` alone: show its help
            sys.stdout.write(shown_help.format_message().rstrip("\n") + "\n")
            code = 0
        except BrokenPipeError:  # the reader left early (`crs history E1 | head`): the work is done
            _silence_stdout()
            code = 0
        except (Exception, KeyboardInterrupt) as error:  # the one boundary: never a traceback
            from cli.errors import INTERNAL_ERROR, classify
            from cli.render import report_failure

            failure = classify(error)
            if failure.exit_code == INTERNAL_ERROR and os.environ.get("CRS_DEBUG"):
                import traceback  # loaded only here: every command would pay for it

                traceback.print_exc()  # for developers only; users get one sentence
            report_failure(failure, as_json)
            code = failure.exit_code
        if standalone_mode:
            sys.exit(code)
        return code


#: The global options a person may also type after the command (`crs status E7K2 --db sqlite:///x.db`).
GLOBAL_VALUE_OPTIONS = ("--db", "--actor")


def hoist_global_options(group: Any, argv: list[str]) -> list[str]:
    """`argv` with every --db/--actor found after the command moved before it, where Click expects them.

    The command's own options are read from its Click definition, so the value of an option (`--note --db`)
    is never taken for a global option; `--` ends the options, as everywhere."""
    index, command = 0, group
    while index < len(argv) and hasattr(command, "commands"):  # the global options, then each (sub)group name
        token = argv[index]
        if token == "--":
            return argv
        if token in GLOBAL_VALUE_OPTIONS:
            index += 2
            continue
        if token.startswith("-"):
            index += 1
            continue
        command = command.commands.get(token)
        if command is None:
            return argv  # an unknown command: Click says so
        index += 1
    takes_value = {name for param in getattr(command, "params", []) if not getattr(param, "is_flag", True)
                   and not getattr(param, "count", False) for name in getattr(param, "opts", [])}
    head, rest, hoisted = argv[:index], [], []
    tail = argv[index:]
    position = 0
    while position < len(tail):
        token = tail[position]
        if token == "--":
            rest += tail[position:]
            break
        name = token.split("=", 1)[0]
        if name in GLOBAL_VALUE_OPTIONS:
            width = 1 if "=" in token else 2
            hoisted += tail[position:position + width]
            position += width
            continue
        width = 2 if token in takes_value else 1
        rest += tail[position:position + width]
        position += width
    if not hoisted:
        return argv
    first_command = next(i for i, token in enumerate(head) if not token.startswith("-")
                         and (i == 0 or head[i - 1] not in GLOBAL_VALUE_OPTIONS))
    return head[:first_command] + hoisted + head[first_command:] + rest


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. under a test runner)
        pass


app = typer.Typer(cls=CrsGroup, help=HELP, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["--help", "-h"]})


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"crs-pathway {crs_version()}\n")
        raise typer.Exit()


def _completion(install: bool) -> Any:
    """Typer's --install-completion / --show-completion, loaded only when asked for (they would load pydantic on
    every start-up as Typer adds them)."""
    def callback(ctx: typer.Context, param: Any, value: bool) -> None:
        if not value:
            return
        from typer import completion

        completion.completion_init()
        shell = os.path.basename(os.environ.get("SHELL", ""))  # the login shell; else Typer asks the process tree
        if shell not in COMPLETION_SHELLS:
            (completion.install_callback if install else completion.show_callback)(ctx, param, value)
            return
        if install:
            completion.install_callback(ctx, param, shell)
            return
        prog = ctx.find_root().info_name or "crs"
        sys.stdout.write(completion.get_completion_script(prog_name=prog, complete_var=f"_{prog.upper()}_COMPLETE",
                                                          shell=shell).rstrip("\n") + "\n")
        raise typer.Exit()
    return callback


COMPLETION_SHELLS = ("bash", "zsh", "fish", "pwsh", "powershell")


@app.callback()
def global_options(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option(
        "--db", envvar="CRS_DB", metavar="URL", show_envvar=True,
        help="Database, an SQLAlchemy URL: sqlite:///path/to/file.db or "
             "postgresql+psycopg://user:pass@host:port/dbname. Default: crs.db in the user data folder.")] = None,
    actor: Annotated[str | None, typer.Option(
        "--actor", envvar="CRS_ACTOR", parser=values.actor, metavar="NAME", show_envvar=True,
        help="Who acts (recorded with every step and refusal). Default: the OS user name.")] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print exactly one JSON object on stdout (also accepted after the command).")] = False,
    version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    install_completion: Annotated[bool, typer.Option(
        "--install-completion", callback=_completion(install=True), is_eager=True, expose_value=False,
        help="Install shell completion (commands, options, drugs, actions, devices) for the current shell.")] = False,
    show_completion: Annotated[bool, typer.Option(
        "--show-completion", callback=_completion(install=False), is_eager=True, expose_value=False,
        help="Show the shell completion script, to copy it or customize the installation.")] = False,
) -> None:
    """Global options go before the command, e.g. `crs --db sqlite:///crs.db status E7K2`."""
    ctx.obj = Settings(db=db, actor=actor or default_actor(), json=json_out, actor_given=actor is not None)


app.command("open", cls=CrsCommand)(steps.open_episode)
app.command("observe", cls=CrsCommand)(steps.observe)
app.command("give", cls=CrsCommand)(steps.give)
app.command("act", cls=CrsCommand)(steps.act)
app.command("resolve", cls=CrsCommand)(steps.resolve)
app.command("close", cls=CrsCommand)(steps.close)
app.command("correct", cls=CrsCommand)(corrections.correct)
app.command("void", cls=CrsCommand)(corrections.void)
app.command("status", cls=CrsCommand)(queries.status)
app.command("history", cls=CrsCommand)(queries.history)
app.command("list", cls=CrsCommand)(queries.list_episodes)
app.add_typer(audit.audit_app, name="audit")
app.command("export", cls=CrsCommand)(fhir.export)
app.command("import", cls=CrsCommand)(fhir.import_file)
app.command("pathway", cls=CrsCommand)(describe.pathway)
app.command("demo", cls=CrsCommand)(demo.demo)
app.command("upgrade", cls=CrsCommand)(upgrade.upgrade)
app.command("roles", cls=CrsCommand)(roles.roles)
app.command("info", cls=CrsCommand)(info.info)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (`crs`) and `python -m cli`.

    pydantic plugins are off in `crs` unless PYDANTIC_DISABLE_PLUGINS is set otherwise: a plugin sees every
    value validated, patient data included (no PHI leaves crs), and finding plugins means reading every
    installed distribution's entry points, which cost a step more than its own validation (issue 13)."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    typer.main.get_command(app).main(args=argv, prog_name="crs")
