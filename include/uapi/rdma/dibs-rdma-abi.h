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

#endif /* DIBS_RDMA_ABI_H */
