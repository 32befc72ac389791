/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dibs_copy.h - how the dibs device drivers copy move_data() payloads into a DMB.
 *
 * Small aligned writes are stored 8 bytes at a time, so a reader polling the
 * DMB on another CPU (or in another guest) never sees a torn u64: SMC-D's
 * 32-byte CDC header carries cursors that are read as atomic64, and memcpy()
 * may copy byte by byte, as "rep movsb" does under TCG.
 */
#ifndef _DIBS_COPY_H
#define _DIBS_COPY_H

#include <linux/align.h>
#include <linux/compiler.h>
#include <linux/string.h>
#include <linux/types.h>

#include <asm/unaligned.h>

/* aligned writes up to this size are stored as whole u64s */
#define DIBS_WORD_COPY_MAX	64

static inline void dibs_copy_to_dmb(void *dst, const void *src,
				    unsigned int size)
{
	u64 *d = dst;
	unsigned int i;

	if (size > DIBS_WORD_COPY_MAX ||
	    !IS_ALIGNED((unsigned long)dst | size, sizeof(u64))) {
		memcpy(dst, src, size);
		return;
	}
	for (i = 0; i < size / sizeof(u64); i++)
		WRITE_ONCE(d[i], get_unaligned((const u64 *)src + i));
}

#endif /* _DIBS_COPY_H */
