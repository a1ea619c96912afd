"""A sweep's report images on the Git remote, where a pull-request comment can link them.

Each publication is a commit on ``refs/gitexp/reports/<sweep>`` whose parent is
the ref's previous commit, so the links of an older version of the comment
(``blob/<commit>/<path>``) keep working; the files sit under ``<sweep>/``. It
is one push of one ref with a lease, which the ``contents: write`` permission
of the run jobs allows; a report job that lost a race to another retries
on the newer tip.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from gitexp.errors import GitCommandError
from gitexp.sharing.sync import remote_store
from gitexp.store.git import ZERO_OID, FastImportCommit, Git, RefUpdate
from gitexp.store.journal import pending_write
from gitexp.store.naming import reports_ref
from gitexp.store.remote import fetch_objects

ATTEMPTS = 3
FILE_MODE = "100644"


@dataclass(frozen=True)
class PublishedFiles:
    commit: str
    paths: dict[str, str]  # file name -> its path in the commit


def publish_report_files(git: Git, remote: str, sweep: str, files: Mapping[str, bytes]) -> PublishedFiles:
    """Commit ``files`` (name -> content) under ``<sweep>/`` on the remote's reports ref of ``sweep``."""
    store = remote_store(git, remote)
    ref = reports_ref(sweep)
    paths = {name: posixpath.join(sweep, name) for name in files}
    for _ in range(ATTEMPTS):
        there = store.current([ref]).get(ref)
        if there:
            fetch_objects(git, store.remote, [there])
        commit = FastImportCommit(there, f"gitexp: report images of sweep {sweep}", {paths[name]: (FILE_MODE, data) for name, data in files.items()})
        with pending_write(git) as write:
            [oid] = git.fast_import([commit], write.scratch)
            if store.swap([RefUpdate(ref, oid, there or ZERO_OID)], [write.scratch], f"gitexp: report images of {sweep}"):
                return PublishedFiles(oid, paths)
        if store.current([ref]).get(ref) == there:  # refused, not raced: say why
            raise GitCommandError(f"{store.remote.shown} refused {ref}: {store.refusals[-1].reason}: allow gitexp to push there")
    raise GitCommandError(f"{store.remote.shown} moved {ref} {ATTEMPTS} times while the report images were pushed: run the report again")
