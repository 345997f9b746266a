"""What the node's log shows of credentials and of garbage: neither a token nor a traceback."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp

from .test_serve import CONFIG, Launch, launch, read_until

__all__ = ["launch"]  # the fixture, used by name

SECRET = "s3cr3t-token-value-that-must-not-be-logged"


async def test_credentials_in_urls_are_redacted_and_bad_requests_are_one_warning(
    launch: Launch, tmp_path: Path
) -> None:
    (tmp_path / "hearth.toml").write_text(CONFIG)
    node = await launch("--config", "hearth.toml", "--port", "0")
    log: list[str] = []
    port = int((await read_until(node, r"listening on http://127\.0\.0\.1:(\d+)", log))
               .group(1))
    base = f"http://127.0.0.1:{port}"

    async with aiohttp.ClientSession() as http:
        for url in (f"{base}/socket/websocket?vsn=2.0.0&token={SECRET}",
                    f"{base}/socket/longpoll?vsn=2.0.0&token={SECRET}",
                    f"{base}/posts?api_key={SECRET}&page=1"):
            async with http.get(url, headers={"Authorization": f"Bearer {SECRET}",
                                              "Referer": f"{base}/?access_token={SECRET}"}):
                pass
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nno colon in this header\r\n\r\n")
    await reader.read()  # the node answers 400 and closes
    writer.close()
    node.send_signal(signal.SIGTERM)
    assert node.stderr is not None
    async with asyncio.timeout(15):
        log.extend((await node.stderr.read()).decode().splitlines(keepends=True))
        assert await node.wait() == 0
    text = "".join(log)

    assert SECRET not in text
    assert "token=[REDACTED]" in text and "api_key=[REDACTED]" in text
    assert "access_token=[REDACTED]" in text
    bad = [line for line in log if "bad HTTP request from 127.0.0.1" in line]
    assert len(bad) == 1 and " WARNING aiohttp.server: " in bad[0], text
    assert "Traceback" not in text and "ERROR" not in text
