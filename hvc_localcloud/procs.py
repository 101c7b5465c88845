# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Processes of the local cloud: start them detached, find them again from
another process, stop them and everything they spawned.

Every service runs in its own session (so its process group id is its pid):
stopping it signals the whole group, which also ends the workers of a uWSGI
master, RabbitMQ's Erlang helpers and anything else the service forked. A
pid is recorded with the process's start time, so a recycled pid is never
taken for a service and never signalled.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time


class StartError(RuntimeError):
    """A service did not start; the message names its log file."""


# Set when a start is given up: the start's other threads then start
# nothing more and stop waiting.
aborting = threading.Event()


def free_ports(count):
    """``count`` distinct free ports (held together while they are picked,
    so that two picks cannot return the same port).
    """
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(('127.0.0.1', 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def venv_bin(name):
    """A console script of the running interpreter's environment."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    return candidate if os.path.exists(candidate) else name


# Services this process started: polled so that they do not linger as
# zombies while it runs (once it exits, init reaps them).
_children = {}


def _reap():
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            _children.pop(pid, None)


def _stat(pid):
    """(state, process group, start time) of a pid, or None if gone."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses.
    fields = text[text.rindex(')') + 2:].split()
    return fields[0], int(fields[2]), int(fields[19])


def start_time(pid):
    stat = _stat(pid)
    return None if stat is None else stat[2]


def alive(record):
    """Whether the process of a {'pid', 'start_time'} record still runs."""
    _reap()
    stat = _stat(record['pid'])
    return (stat is not None and stat[0] != 'Z' and
            stat[2] == record['start_time'])


def group_members(pgid):
    """Live (non-zombie) pids of a process group."""
    _reap()
    members = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pgid and stat[0] != 'Z':
                members.append(int(entry))
    return members


def rss_mb(pid):
    """Resident memory of a process and the rest of its group, in MB."""
    total = 0
    for member in group_members(pid):
        try:
            with open('/proc/%d/status' % member) as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _open_log(path):
    """A log file to append to, readable by its owner only: a service may
    print what it was given.
    """
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                             0o600), 'ab')


def spawn(argv, log_file, env=None, cwd=None, stop_signal=signal.SIGTERM):
    """Start argv detached (own session), output appended to log_file.

    Returns the record to store: the process ('pid', 'start_time') and its
    whole launch ('argv', 'env', 'cwd', 'log_file', 'stop_signal'; the
    environment and folder it inherited when ``env`` or ``cwd`` is None),
    which ``respawn`` starts again as it was.
    """
    if aborting.is_set():
        raise StartError('start given up: not starting %s' % argv[0])
    launch = {'argv': list(argv),
              'env': dict(os.environ if env is None else env),
              'cwd': os.path.abspath(cwd or os.getcwd()),
              'log_file': os.path.abspath(log_file),
              'stop_signal': int(stop_signal)}
    with _open_log(launch['log_file']) as log:
        proc = subprocess.Popen(
            launch['argv'], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env=launch['env'], cwd=launch['cwd'], start_new_session=True,
            close_fds=True)
    _children[proc.pid] = proc
    return dict(launch, pid=proc.pid, start_time=start_time(proc.pid))


def respawn(record):
    """Stop a recorded process (if it still runs) and start it again with
    its recorded launch; returns the new record.
    """
    stop(record)
    return spawn(record['argv'], record['log_file'], env=record['env'],
                 cwd=record['cwd'], stop_signal=record['stop_signal'])


def stop(record, timeout=15):
    """Signal the record's process group (SIGTERM unless the record says
    otherwise), SIGKILL what is left after ``timeout`` seconds. Returns
    True if it had to kill.
    """
    if not alive(record):
        # The leader is gone; its group may still hold children.
        members = group_members(record['pid'])
        if not members:
            return False
    pgid = record['pid']
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, record.get('stop_signal', signal.SIGTERM))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not group_members(pgid):
            return False
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def tail(path, lines=20):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


def wait_until(check, what, record, log_file, timeout):
    """Poll ``check()`` until it is true; fail early if the process died.

    ``record`` may be None for a one-off check with no process of its own.
    """
    deadline = time.monotonic() + timeout
    while True:
        if aborting.is_set():
            raise StartError('start given up: stopped waiting for %s' % what)
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not up yet, try again
            pass
        if record is not None and not alive(record):
            raise StartError('%s exited while starting; see %s:\n%s' % (
                what, log_file, tail(log_file)))
        if time.monotonic() > deadline:
            raise StartError('%s did not come up within %ss; see %s:\n%s' % (
                what, timeout, log_file, tail(log_file)))
        time.sleep(0.2)


def run(argv, log_file, env=None, what=None, timeout=600):
    """Run a set-up command to completion, its output in log_file.

    Its argv is written to the log (and is in /proc while it runs): a
    password goes in its configuration file or ``env``, never in argv.
    """
    with _open_log(log_file) as log:
        log.write(('\n$ %s\n' % ' '.join(argv)).encode())
        log.flush()
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=log, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StartError('%s timed out after %ss; see %s' % (
                what or argv[0], timeout, log_file))
    if proc.returncode:
        raise StartError('%s failed (exit %d); see %s:\n%s' % (
            what or ' '.join(argv), proc.returncode, log_file,
            tail(log_file)))
