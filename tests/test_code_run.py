"""The opt-in Python sandbox: runtime errors and failed asserts are caught; the sandbox keeps the network,
the memory and the clock in bounds; what the environment lacks is never held against the code."""

from __future__ import annotations

import os
import time

from assay.tools.code_run import isolation, network_namespace, run_python, self_contained


def test_a_runtime_error_and_a_failed_assert_are_caught_with_their_line() -> None:
    result = run_python("x = [1, 2]\nprint(x[5])\n")
    assert result.failed and result.error == "IndexError: list index out of range" and result.line == 2
    result = run_python("def double(n):\n    return n * 3\n\nassert double(2) == 4, 'double is wrong'\n")
    assert result.failed and result.error == "AssertionError: double is wrong" and result.line == 4


def test_working_code_passes() -> None:
    result = run_python("import math\nassert math.isclose(math.sqrt(16), 4)\nprint('ok')\n")
    assert result.ran and not result.failed


def test_code_that_is_not_self_contained_is_not_run() -> None:
    assert "numpy" in (self_contained("import numpy as np\nprint(np.zeros(2))") or "")
    assert "arr" in (self_contained("for x in arr:\n    print(x)") or "")
    assert self_contained("def f(a):\n    return g(a)\n\ndef g(b):\n    return b\n\nprint(f(1))") is None
    result = run_python("print(undefined_name)")
    assert not result.ran and not result.failed and "defined nowhere" in (result.note or "")


def test_the_network_is_out_of_reach() -> None:
    code = ("import socket\n"
            "socket.create_connection(('93.184.215.14', 80), timeout=3)\n")
    result = run_python(code, timeout=10)
    assert not result.failed and not result.ran  # an environmental failure: not held against the code
    assert "OSError" in (result.note or "") or "unreachable" in (result.note or "")
    assert isolation().startswith("network namespace" if network_namespace() else "socket functions")


def test_a_timeout_stops_the_program_and_is_not_a_failure() -> None:
    started = time.perf_counter()
    result = run_python("while True:\n    pass\n", timeout=1)
    assert time.perf_counter() - started < 5
    assert result.timed_out and not result.failed


def test_memory_is_limited_and_running_out_is_not_the_codes_fault() -> None:
    result = run_python("data = bytearray(900 * 1024 * 1024)\nprint(len(data))\n", memory_mb=256)
    assert not result.failed and not result.ran and "MemoryError" in (result.note or "")


def test_the_program_runs_in_a_temporary_folder_that_is_removed() -> None:
    code = "import os\nassert os.path.basename(os.getcwd()).startswith('assay-run-')\nopen('left.txt', 'w').write('x')\n"
    result = run_python(code)
    assert result.ran and not result.failed
    assert not os.path.exists("left.txt")


def test_input_without_stdin_is_not_a_failure() -> None:
    result = run_python("name = input('Name: ')\nprint('Hello', name)\n")
    assert not result.failed and "EOFError" in (result.note or "")


def test_values_the_instruction_gives_are_run_first() -> None:
    from assay.tools.code_run import given_values

    instruction = "Sort the list.\n\nlist = [3, 7, 1]\n    area = length * width"
    assert given_values(instruction) == "list = [3, 7, 1]"  # a quoted line of code is not a value given
    result = run_python("list.sort()\nassert list == [1, 3, 7]\n", given=given_values(instruction))
    assert result.ran and not result.failed
    result = run_python("list.sort()\nassert list == [7, 3, 1]\n", given=given_values(instruction))
    assert result.failed and result.line == 2  # the line in the answer, not in the program with the values
