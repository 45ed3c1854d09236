"""The HTTP client of the lab's service, for agents on boards and for controllers sending jobs to them:
artifacts up and down (verified by SHA-256), dispatches, results and heartbeats. Every refusal of the
service becomes one line naming the status and the service's reason."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deploybench.core.errors import DeploybenchError, NotFoundError, WorkerError
from deploybench.core.hashing import file_sha256
from deploybench.core.records import JobSpec, ResultRecord

CHUNK = 1 << 20
RETRY_PAUSES_S = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Pauses between the tries of a request the service could not answer (about 15 s in all)."""


class LabError(DeploybenchError):
    """The service refused a request, or could not be reached."""


class LabClient:
    """A session with the service at `url`, authenticated by `token`."""

    def __init__(self, url: str, token: str, timeout_s: float = 30.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s)

    def close(self) -> None:
        """End the session."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request, retried with growing pauses while the service is unreachable or answers 5xx; its JSON
        answer, or LabError with the service's reason."""
        import httpx

        for pause_s in (*RETRY_PAUSES_S, None):
            try:
                answer = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                if pause_s is None:
                    raise LabError(f"the service at {self.url} cannot be reached ({exc})") from exc
                time.sleep(pause_s)
                continue
            if answer.status_code < 500 or pause_s is None:
                break
            time.sleep(pause_s)
        if answer.status_code == 404:
            raise NotFoundError(f"{self.url}{path}: {_reason(answer)}")
        if answer.status_code >= 400:
            raise LabError(f"{method} {self.url}{path}: {answer.status_code} {_reason(answer)}")
        return answer.json() if answer.headers.get("content-type", "").startswith("application/json") else answer

    def whoami(self) -> dict[str, Any]:
        """The token's name, role and target."""
        return dict(self._call("GET", "/api/whoami"))

    def target(self, name: str) -> dict[str, Any]:
        """A catalog target, as the service has it."""
        return dict(self._call("GET", f"/api/catalog/targets/{name}"))

    def upload(self, path: Path) -> str:
        """Put a file in the artifact store (once); its SHA-256."""
        sha256 = file_sha256(path)
        self._call("PUT", f"/api/artifacts/{sha256}", content=FileChunks(path))
        return sha256

    def fetch(self, sha256: str, cache: Path, suffix: str = "") -> Path:
        """The artifact with that hash (named with `suffix`, which tells its format), from the local cache or
        downloaded into it and verified."""
        final = cache / sha256[:2] / f"{sha256}{suffix}"
        if final.is_file() and file_sha256(final) == sha256:
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        scratch = final.with_name(f"{final.name}.part")
        hasher = hashlib.sha256()
        with self._http.stream("GET", f"/api/artifacts/{sha256}") as answer:
            if answer.status_code != 200:
                answer.read()
                raise LabError(f"artifact {sha256}: {answer.status_code} {_reason(answer)}")
            with scratch.open("wb") as out:
                for chunk in answer.iter_bytes(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
        if hasher.hexdigest() != sha256:
            scratch.unlink(missing_ok=True)
            raise LabError(f"artifact {sha256} arrived with hash {hasher.hexdigest()}: refused")
        scratch.replace(final)
        return final

    def dispatch(
        self, job: JobSpec, target: str, campaign: str | None = None, retry_failed: bool = False
    ) -> dict[str, Any]:
        """Queue the job on the target; the dispatch as the service records it (`new` false when the same job
        was already sent there: its dispatch is answered again)."""
        body = {
            "job": job.model_dump(mode="json"),
            "target": target,
            "campaign": campaign,
            "retry_failed": retry_failed,
        }
        return dict(self._call("POST", "/api/dispatches", json=body))

    def dispatch_state(self, dispatch_id: str) -> dict[str, Any]:
        """A dispatch as it stands (with its job, for an agent of its target)."""
        return dict(self._call("GET", f"/api/dispatches/{dispatch_id}"))

    def dispatches(self, target: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        """Dispatches as they stand, newest first, of one target and state when given."""
        params = {key: value for key, value in (("target", target), ("state", state)) if value is not None}
        return list(self._call("GET", "/api/dispatches", params=params))

    def start(self, dispatch_id: str) -> dict[str, Any]:
        """Count this delivery as an attempt; the dispatch after it, with its job."""
        return dict(self._call("POST", f"/api/dispatches/{dispatch_id}/start"))

    def post_result(self, dispatch_id: str, record: ResultRecord) -> dict[str, Any]:
        """Send the dispatch's result (stored once)."""
        content = record.model_dump_json()
        headers = {"Content-Type": "application/json"}
        return dict(self._call("POST", f"/api/dispatches/{dispatch_id}/result", content=content, headers=headers))

    def result(self, result_id: int) -> ResultRecord:
        """One stored result."""
        return ResultRecord.model_validate(self._call("GET", f"/api/results/{result_id}"))

    def heartbeat(self, report: dict[str, Any]) -> None:
        """Tell the service this agent is alive, with what it has."""
        self._call("POST", "/api/agents/heartbeat", json=report)

    def agents(self) -> list[dict[str, Any]]:
        """Every agent the service knows, online or not."""
        return list(self._call("GET", "/api/agents"))

    def make_token(self, role: str, name: str, target: str | None) -> dict[str, Any]:
        """A new token (for an admin, or an owner making its board's agent tokens), with its secret."""
        return dict(self._call("POST", "/api/tokens", json={"role": role, "name": name, "target": target}))

    def tokens(self) -> list[dict[str, Any]]:
        """The tokens this token manages, without their secrets."""
        return list(self._call("GET", "/api/tokens"))

    def revoke_token(self, token_id: int) -> dict[str, Any]:
        """Revoke a token this token manages."""
        return dict(self._call("DELETE", f"/api/tokens/{token_id}"))

    def wait(self, dispatch_id: str, timeout_s: float, poll_s: float = 0.5) -> dict[str, Any]:
        """The dispatch once done or failed; WorkerError after timeout_s (saying whether any agent is online)."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.dispatch_state(dispatch_id)
            if state["state"] in ("done", "failed"):
                return state
            if time.monotonic() > deadline:
                online = [a["name"] for a in self.agents() if a["target"] == state["target"] and a["online"]]
                raise WorkerError(
                    f"dispatch {dispatch_id} still {state['state']} after {timeout_s:g} s",
                    hint=f"agents online for {state['target']}: {', '.join(online) or 'none: start one'}",
                )
            time.sleep(poll_s)


class FileChunks:
    """A file's bytes in chunks, read afresh each time it is iterated (so a retried upload sends it whole)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as data:
            while chunk := data.read(CHUNK):
                yield chunk


def _reason(answer: Any) -> str:
    """The service's one-line reason of a refusal."""
    try:
        return str(answer.json().get("detail", answer.text))
    except ValueError:
        return str(answer.text)[:200]
