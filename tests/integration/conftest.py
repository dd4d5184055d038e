# SPDX-License-Identifier: LGPL-2.1-or-later
from gunyah_fixtures import env, gd  # noqa: F401 (fixtures)
