/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* _cleanup_ helpers for json-c objects, for every program that uses json-c:
 * _cleanup_(json_object_putp) json_object *o = ...; */

#include <json-c/json.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);
