/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * dibs-rdma: the ABI between the kernel RDMA driver (kernel/, dibs_rdma.ko)
 * and the rdma-core provider (providers/dibs/, libdibs-rdmav34.so).
 *
 * This header is the only definition of that ABI; both sides include it.
 * Types are fixed width; structures are padded to 8 bytes explicitly.
 *
 * Device matching: an out-of-tree driver cannot add an rdma_driver_id, so
 * the kernel registers with RDMA_DRIVER_UNKNOWN and names every ib_device
 * after its dibs device ("dibs_lo0", ...). The provider matches devices
 * whose name starts with DIBS_RDMA_NAME_PREFIX and whose uverbs ABI version
 * is DIBS_RDMA_ABI_VERSION.
 */
#ifndef DIBS_RDMA_ABI_H
#define DIBS_RDMA_ABI_H

#include <linux/types.h>

#define DIBS_RDMA_ABI_VERSION	1
#define DIBS_RDMA_NAME_PREFIX	"dibs_"

/*
 * Completion queue ring
 * ---------------------
 * A CQ created with a dibs_rdma_create_cq_resp response buffer is a ring
 * mapped into the process: mmap(mmap_len bytes at mmap_offset of the uverbs
 * file) gives a struct dibs_rdma_cq_ring followed by num_cqe struct
 * dibs_rdma_cqe entries (DIBS_RDMA_CQ_RING_ENTRIES bytes in). The kernel
 * writes entry prod % num_cqe, then advances prod (release). The process
 * reads entries from cons up to prod (acquire) and advances cons (release);
 * the kernel reads cons only to see how much room is left. Values of
 * status, opcode and wc_flags are those of struct ib_uverbs_wc. The uverbs
 * POLL_CQ command on such a CQ returns no entries; it drains the receive
 * rings of the CQ's QPs into the ring.
 */
struct dibs_rdma_cqe {
	__aligned_u64 wr_id;
	__u32 status;
	__u32 opcode;
	__u32 vendor_err;
	__u32 byte_len;
	__u32 imm_data;		/* network order */
	__u32 qp_num;
	__u32 src_qp;
	__u32 wc_flags;
	__u16 pkey_index;
	__u16 slid;
	__u8 sl;
	__u8 dlid_path_bits;
	__u8 port_num;
	__u8 reserved;
};

struct dibs_rdma_cq_ring {
	__u32 prod;		/* written by the kernel */
	__u32 pad0[15];
	__u32 cons;		/* written by the process */
	__u32 pad1[15];
};

#define DIBS_RDMA_CQ_RING_ENTRIES	sizeof(struct dibs_rdma_cq_ring)

/* driver part of the CREATE_CQ response */
struct dibs_rdma_create_cq_resp {
	__aligned_u64 mmap_offset;
	__aligned_u64 mmap_len;
	__u32 num_cqe;
	__u32 reserved;
};

#endif /* DIBS_RDMA_ABI_H */
