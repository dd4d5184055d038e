/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A new daemon finds the VMs a previous one left (design §4, "VMs outlive
 * the daemon"): each <runtime_dir>/vms/NAME/record.json (vm-record.h).
 * Every recorded process is opened as a pidfd and checked against its
 * start time (a reused PID is not ours). A "running" record whose keeper
 * answers, on a backend whose VMs outlive their handle (vm_release: the
 * simulator), is adopted: the keeper hands back the daemon's fds, workers
 * and device processes are watched again, the VM is published running
 * with its UUID and StartedTimestamp; processes that ended meanwhile are
 * reported as the event loop runs, after what they said last. Anything
 * else is torn down (its processes killed, its files removed); a defined
 * VM that was only starting ends failed, load-failed: daemon-restart. A
 * corrupt record is reported, its processes killed through the pidfds its
 * keeper holds and the keeper told to quit; a record of a newer version,
 * or not root's, is reported and left alone.
 */

typedef struct Manager Manager;

/* At daemon start, after the definitions are loaded and before autostart. */
void manager_adopt_vms(Manager *m);
