"""A small client for the trainq HTTP API, as a front-end would use it."""
from __future__ import annotations

import time

import requests

VALID_JOB = {"name": "digits", "framework": "pytorch", "script_path": "train_pytorch.py",
             "cpu": 1, "memory": 1 << 30, "gpu": 0, "priority": 5}
TERMINAL = {"completed", "failed", "cancelled"}


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> "ApiClient":
        response = requests.post(f"{base_url}/auth/token", timeout=10,
                                 json={"username": username, "password": password})
        response.raise_for_status()
        return cls(base_url, response.json()["access_token"])

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.base_url + path, timeout=15, **kwargs)

    def submit(self, **overrides) -> requests.Response:
        body = {**VALID_JOB, **overrides}
        return self.request("POST", "/api/v1/training/jobs",
                            json={k: v for k, v in body.items() if v is not ...})

    def submit_ok(self, **overrides) -> str:
        response = self.submit(**overrides)
        assert response.status_code == 201, response.text
        return response.json()["data"]["job_id"]

    def job(self, job_id: str) -> dict:
        response = self.request("GET", f"/api/v1/training/jobs/{job_id}")
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def wait_status(self, job_id: str, statuses, timeout: float = 60) -> dict:
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job["status"] in statuses:
                return job
            if job["status"] in TERMINAL:
                raise AssertionError(f"{job_id} ended {job['status']}: {job['failure_message']}")
            time.sleep(0.1)
        raise AssertionError(f"{job_id} still {job['status']} after {timeout}s, wanted {statuses}")

    def wait_terminal(self, job_id: str, timeout: float = 90) -> dict:
        return self.wait_status(job_id, TERMINAL, timeout)
