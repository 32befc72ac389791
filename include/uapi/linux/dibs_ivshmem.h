/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * dibs_ivshmem: the layout of a shared-memory region that guests of one host
 * share through QEMU's ivshmem-doorbell device (BAR2), as the cross-VM dibs
 * device (dibs/dibs_ivshmem.c) uses it.
 *
 * This header is the only definition of that layout: the guest driver, the
 * host's region server (utils/vm/ivshmem-server) and the tests include it.
 * All fields are little endian.
 *
 * Trust
 * -----
 * Every guest attached to a region can write every byte of it. A region is
 * one trust domain, like a LAN segment: what one guest publishes here (its
 * GID, its DMB directory, the contents of its DMBs) every other guest can read
 * and overwrite. A guest never trusts what it reads: each offset, length,
 * index and token is checked against this layout (and against the reader's
 * private copy of what it published itself) before use, so that a corrupt or
 * hostile region makes operations fail but never makes a guest access memory
 * outside the region. Isolation between tenants means one region per pair or
 * group of guests.
 *
 * Layout
 * ------
 *	offset 0			struct dibs_ivshmem_hdr (one page), written
 *					by the server that creates the region
 *	hdr.section_off + i * hdr.section_size
 *					section of peer slot i, i < max_peers
 *
 * Peer slot i is used by the guest whose ivshmem peer id (IVPosition) is i;
 * ids are given by the server in connection order, so guests discover each
 * other here instead of assuming ids. A section holds, in this order:
 *
 *	struct dibs_ivshmem_peer	what the guest publishes about itself
 *	struct dibs_ivshmem_dmb_desc[DIBS_IVSHMEM_MAX_DMBS]
 *					its DMB directory
 *	struct dibs_ivshmem_ring[DIBS_IVSHMEM_MAX_PEERS]
 *					its receive rings, one per sender slot
 *	arena				its DMBs (the rest of the section)
 *
 * Everything in a section is written by its owner, except a ring's prod
 * and its entries, which only that ring's sender writes.
 *
 * Peer lifecycle: a guest joining slot i clears its section, chooses a new
 * random epoch and GID, and sets state to LIVE last. While live it increments
 * heartbeat every DIBS_IVSHMEM_HEARTBEAT_MS; a guest that leaves sets state
 * to FREE. A peer whose heartbeat does not move for DIBS_IVSHMEM_PEER_TIMEOUT_MS
 * is gone (its guest or QEMU died); a new epoch in a slot is a new peer.
 *
 * DMB tokens: bits 0-7 the owner's slot, bits 8-15 the DMB's index in the
 * owner's directory, bits 16-63 random. A token names the directory entry
 * that has to confirm it.
 *
 * Signals and events: a sender appends a struct dibs_ivshmem_msg to the ring
 * for its slot in the receiver's section (single producer, single consumer:
 * no atomic operations across guests) and rings the receiver's doorbell
 * (MSI-X vector 0).
 */
#ifndef _UAPI_LINUX_DIBS_IVSHMEM_H
#define _UAPI_LINUX_DIBS_IVSHMEM_H

#include <linux/types.h>

/* "DIBSIVSH" */
#define DIBS_IVSHMEM_MAGIC		0x4853564953424944ULL
#define DIBS_IVSHMEM_VERSION		1

#define DIBS_IVSHMEM_PAGE		4096
#define DIBS_IVSHMEM_MAX_PEERS		8
#define DIBS_IVSHMEM_MAX_DMBS		256
/* entries per ring; a power of two */
#define DIBS_IVSHMEM_RING_ENTRIES	1024
/* VLAN ids a peer can publish */
#define DIBS_IVSHMEM_MAX_VLANS		8

#define DIBS_IVSHMEM_HEARTBEAT_MS	100
#define DIBS_IVSHMEM_PEER_TIMEOUT_MS	3000

/* the smallest region: every section needs its tables and a 1 MiB arena */
#define DIBS_IVSHMEM_MIN_REGION		(16ULL << 20)

/* ivshmem-doorbell BAR0 registers (QEMU's docs/specs/ivshmem-spec.txt) */
#define DIBS_IVSHMEM_REG_IVPOSITION	8
#define DIBS_IVSHMEM_REG_DOORBELL	12

struct dibs_ivshmem_hdr {
	__le64 magic;
	__le32 version;
	/* sizeof(struct dibs_ivshmem_hdr) */
	__le32 hdr_size;
	/* size of the whole region, a power of two, >= DIBS_IVSHMEM_MIN_REGION */
	__le64 region_size;
	/* dibs fabric id of every device on this region; not 0, not 0xffff */
	__le16 fabric_id;
	/* DIBS_IVSHMEM_MAX_PEERS, _MAX_DMBS, _RING_ENTRIES: checked by guests */
	__le16 max_peers;
	__le16 max_dmbs;
	__le16 ring_entries;
	/* DIBS_IVSHMEM_PAGE */
	__le64 section_off;
	/* DIBS_IVSHMEM_SECTION_SIZE(region_size) */
	__le64 section_size;
	/* offset of the arena in a section (dibs_ivshmem_arena_off()) */
	__le64 arena_off;
};

enum dibs_ivshmem_peer_state {
	DIBS_IVSHMEM_PEER_FREE = 0,
	DIBS_IVSHMEM_PEER_LIVE = 1,
};

struct dibs_ivshmem_peer {
	/* enum dibs_ivshmem_peer_state; LIVE is written last on join */
	__le32 state;
	__le32 nr_vlans;
	/* nonzero, new each time a guest takes the slot */
	__le64 epoch;
	/* the dibs device GID (uuid) */
	__u8 gid[16];
	__le64 heartbeat;
	/* VLAN ids of the device (dibs add_vlan_id), nr_vlans of them */
	__le16 vlan[DIBS_IVSHMEM_MAX_VLANS];
	__u8 reserved[DIBS_IVSHMEM_PAGE - 56];
};

struct dibs_ivshmem_dmb_desc {
	/* 0: the entry is free */
	__le64 token;
	/* the DMB is [off, off + len) of the owner's arena */
	__le32 off;
	__le32 len;
	/* only the device with this GID may write; all zero: any */
	__u8 rgid[16];
};

enum dibs_ivshmem_msg_type {
	/* DMB idx (token) was written with signal mask */
	DIBS_IVSHMEM_MSG_SIGNAL = 1,
	/* dibs signal_event(): code, info */
	DIBS_IVSHMEM_MSG_EVENT = 2,
};

struct dibs_ivshmem_msg {
	__le32 type;
	/* SIGNAL: index of the DMB in the receiver's directory, and its token */
	__le32 idx;
	__le64 token;
	/* SIGNAL: element bits; EVENT: event code */
	__le32 mask;
	__le32 code;
	/* EVENT: event data */
	__le64 info;
};

struct dibs_ivshmem_ring {
	/* next entry the sender writes (free running); written by the sender */
	__le32 prod;
	__u8 pad0[60];
	/* next entry the receiver reads (free running); written by the receiver */
	__le32 cons;
	__u8 pad1[60];
	struct dibs_ivshmem_msg msg[DIBS_IVSHMEM_RING_ENTRIES];
};

/*
 * size of each peer's section in a region of @region bytes: what follows the
 * header page, split evenly, rounded down to a page
 */
#define DIBS_IVSHMEM_SECTION_SIZE(region) \
	((((__u64)(region) - DIBS_IVSHMEM_PAGE) / DIBS_IVSHMEM_MAX_PEERS) & \
	 ~(__u64)(DIBS_IVSHMEM_PAGE - 1))

/* offsets within a section */
#define DIBS_IVSHMEM_DIR_OFF	sizeof(struct dibs_ivshmem_peer)
#define DIBS_IVSHMEM_RINGS_OFF	(DIBS_IVSHMEM_DIR_OFF + \
				 DIBS_IVSHMEM_MAX_DMBS * sizeof(struct dibs_ivshmem_dmb_desc))
#define DIBS_IVSHMEM_ARENA_OFF	((DIBS_IVSHMEM_RINGS_OFF + \
				  DIBS_IVSHMEM_MAX_PEERS * sizeof(struct dibs_ivshmem_ring) + \
				  DIBS_IVSHMEM_PAGE - 1) & ~(__u64)(DIBS_IVSHMEM_PAGE - 1))

#endif /* _UAPI_LINUX_DIBS_IVSHMEM_H */
