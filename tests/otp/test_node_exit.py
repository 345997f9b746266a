"""``otp.run_node`` in a real process: its exit code is the node's, whatever threads the code
that ran in it left running."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap

# A node whose one child leaves a thread that never ends (a library's worker, a connection
# nobody closed) each time it starts; with "crash" the child crashes until the root gives up.
NODE = textwrap.dedent('''
    import logging, sys, threading
    import otp
    from otp import GenServer, Ok, Supervisor

    class Leaky(GenServer):
        def init(self, mode):
            threading.Thread(target=threading.Event().wait, name="never-ends").start()
            if mode == "crash":
                otp.send(otp.self(), "crash")
            print("started", flush=True)
            return Ok(mode)

        def handle_info(self, msg, state):
            raise RuntimeError("crashed on purpose")

    logging.basicConfig(level="INFO")
    root = Supervisor.child_spec([Leaky.child_spec(sys.argv[1], id="leaky")], id="root")
    sys.exit(otp.run_node(root, name="test@exit"))
''')


async def run(mode: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", NODE, mode,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(node: asyncio.subprocess.Process) -> tuple[int, str]:
    """Its exit code and stderr; a node still running after 30 s is killed and fails."""
    try:
        async with asyncio.timeout(30):
            _, err = await node.communicate()
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
    assert node.returncode is not None
    return node.returncode, err.decode()


async def test_sigterm_exits_0_though_a_thread_is_left_running() -> None:
    node = await run("stay")
    assert node.stdout is not None
    try:
        async with asyncio.timeout(15):
            assert await node.stdout.readline() == b"started\n"
    except BaseException:
        node.kill()
        await node.wait()
        raise

    node.send_signal(signal.SIGTERM)
    code, err = await finish(node)

    assert code == 0, err
    assert "node test@exit stopped" in err
    assert "never-ends" in err  # the operator is told which thread the node left behind


async def test_a_root_that_gives_up_exits_1_though_threads_are_left_running() -> None:
    node = await run("crash")

    code, err = await finish(node)

    assert code == 1, err
    assert "root supervisor exited" in err
