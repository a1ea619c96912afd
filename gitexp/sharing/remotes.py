"""Which Git remote a sharing command names (``[REMOTE] [SWEEP...]``), and its Git with the Actions token in CI."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from gitexp.errors import NotFoundError
from gitexp.store.git import Git
from gitexp.store.records import Ledger
from gitexp.store.remote import DEFAULT_REMOTE


def split_remote_and_names(
    git: Git, arguments: list[str], local_sweeps: bool = False
) -> tuple[str, list[str]]:
    """``[REMOTE] [SWEEP...]``: the first argument is the remote when it names one, else ``origin``.

    With ``local_sweeps`` (push), a first argument that is neither a remote nor
    a sweep of this repository is refused, naming both lists.
    """
    remotes = git.remote_names()
    if arguments and arguments[0] in remotes:
        return arguments[0], arguments[1:]
    if arguments and local_sweeps:
        sweeps = Ledger(git).sweep_names()
        if arguments[0] not in sweeps:
            raise NotFoundError(
                f"{arguments[0]!r} is neither a Git remote (remotes: {', '.join(remotes) or 'none configured'}) "
                f"nor a sweep (sweeps: {', '.join(sweeps) or 'none yet'}): check the name, or git remote add it"
            )
    return DEFAULT_REMOTE, arguments


def with_actions_token(git: Git, env: Mapping[str, str], remote: str) -> Git:
    """``git`` that authenticates to GitHub with GITHUB_TOKEN when running in Actions and nothing else does.

    The token goes into an ``http.<server>/.extraheader`` through GIT_CONFIG_*
    variables of gitexp's own git processes: never on a command line, never in
    .git/config. A checkout that persisted its credentials is left as it is.
    """
    token = env.get("GITHUB_TOKEN", "").strip()
    server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
    url = git.config_get(f"remote.{remote}.url") or ""
    if env.get("GITHUB_ACTIONS") != "true" or not token or not url.startswith(server + "/"):
        return git
    if git.config_matches(r"^http\..*\.extraheader$"):
        return git
    index = int(env.get("GIT_CONFIG_COUNT") or 0)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode("ascii")
    extra = {
        "GIT_CONFIG_COUNT": str(index + 1),
        f"GIT_CONFIG_KEY_{index}": f"http.{server}/.extraheader",
        f"GIT_CONFIG_VALUE_{index}": f"AUTHORIZATION: basic {basic}",
    }
    return Git(git.root, {**git.env, **extra})
