"""Every `qa-service` command line the README shows parses as written (placeholders filled in,
each optional part included): a README command that the CLI refuses is a bug."""

import re
import shlex

import pytest
import typer.main

from qa_service.cli import app
from tests.support import ROOT

PLACEHOLDERS = {
    "PATH...": "calls/",
    "FILE...": "rubric.yaml",
    "FILE": "rubric.yaml",
    "DIR": "inbox",
    "URL": "sqlite:///qa.db",
    "P": "telecom",
    "N": "1",
    "ID": "3",
}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^qa-service .*$", text, flags=re.M)
    lines += re.findall(r"`(?:0 2 \* \* \* )?(qa-service [^`]+)`", text)
    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        line = re.sub(r"\[([^\]]*)\]", r"\1", line)  # optional parts: include them
        line = re.sub(r"(--[a-z-]+) ([a-z]+)\|[a-z|]+", r"\1 \2", line)  # a|b: take the first
        words = [PLACEHOLDERS.get(w, w) for w in shlex.split(line)[1:]]
        out.append(words)
    return out


COMMANDS = readme_commands()


def test_readme_has_commands():
    assert any(words[0] == "worker" and "--queues" in words for words in COMMANDS)


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(w) for w in COMMANDS])
def test_readme_command_parses(words):
    command = typer.main.get_command(app)
    # walk down to the subcommand (keys create ...) and parse its arguments as click would
    group, args = command, list(words)
    while hasattr(group, "commands") and args and args[0] in group.commands:
        group, args = group.commands[args[0]], args[1:]
    group.make_context(words[0], args)  # click.UsageError if the CLI refuses it


def test_worker_queues_as_the_readme_writes_them():
    command = typer.main.get_command(app).commands["worker"]
    ctx = command.make_context("worker", ["--queues", "qa-transcribe", "qa-rescore", "--slot", "2"])
    assert ctx.params["queues"] == ["qa-transcribe"] and ctx.params["more_queues"] == ["qa-rescore"]
