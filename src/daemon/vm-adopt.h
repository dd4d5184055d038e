/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A new daemon finds the VMs a previous one left (design §4, "VMs outlive
 * the daemon"): each <runtime_dir>/vms/NAME/record.json (vm-record.h).
 * Every recorded process is opened as a pidfd and checked against its
 * start time (a reused PID is not ours). A "running" record whose
 * processes all run, on the simulator backend, without device processes,
 * is adopted: its keeper hands back the daemon's fds, the VM is published
 * running with its UUID and StartedTimestamp. Anything else is torn down
 * (its processes killed, its files removed); a defined VM that was only
 * starting ends failed, load-failed: daemon-restart. A corrupt record is
 * reported and its keeper told to quit (the processes then leave on EOF);
 * a record of a newer version, or not root's, is reported and left alone.
 */

typedef struct Manager Manager;

/* At daemon start, after the definitions are loaded and before autostart. */
void manager_adopt_vms(Manager *m);
