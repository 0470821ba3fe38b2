/* SPDX-License-Identifier: MPL-2.0 */
/* Core operations not yet in the PostgreSQL engine (being written). */
#include "pg_internal.h"

#define TODO_OP(name)                                                                \
	int pg__op_##name##_apply(struct pg_wtxn *w, struct store__op *op)           \
	{                                                                            \
		(void)w;                                                             \
		(void)op;                                                            \
		return STORE_EINTERNAL;                                              \
	}

TODO_OP(put_device)
TODO_OP(revoke_device)
TODO_OP(put_signed_prekey)
TODO_OP(add_one_time_prekeys)
TODO_OP(take_one_time_prekeys)
TODO_OP(store_envelopes)
TODO_OP(delete_envelope)
TODO_OP(expire)
TODO_OP(delete_mailbox)
TODO_OP(put_push_sub)
TODO_OP(delete_push_sub)
