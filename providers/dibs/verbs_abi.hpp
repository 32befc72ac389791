// SPDX-License-Identifier: GPL-2.0
//
// libibverbs' private provider ABI, as far as the dibs provider uses it.
//
// Mirrors rdma-core tag v44.0 (Debian 12: libibverbs1 44.0-2), provider ABI version 34: the
// symbols below are exported by libibverbs.so.1 at version IBVERBS_PRIVATE_34 (check with
// `nm -D --with-symbol-versions libibverbs.so.1 | grep IBVERBS_PRIVATE_34`). Upstream keeps
// <infiniband/driver.h> internal and no distribution ships it, so the declarations are written
// here from v44.0's libibverbs/driver.h, kern-abi.h and ccan/list.h. Every size and offset the
// provider relies on is asserted below with the value measured on amd64 from the v44.0 headers.
//
// Porting to another rdma-core release is a review of this one file: compare it with that
// release's driver.h and kern-abi.h, change ibverbs_pabi_version and the name of
// verbs_register_driver_NN, and update the structures and assertions. Since rdma-core v43 the
// PABI has been 34 up to v56; later releases use other numbers (57, 59, 64, 65, ...), and a
// provider built against the wrong PABI is not loaded (its .so name and symbol versions differ).
//
// Nothing here is dibs specific. Public types (struct ibv_*, struct verbs_context) come from
// <infiniband/verbs.h>; the command payloads come from the kernel's <rdma/ib_user_verbs.h>.
#ifndef DIBS_PROVIDER_VERBS_ABI_HPP
#define DIBS_PROVIDER_VERBS_ABI_HPP

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <type_traits>

#include <infiniband/verbs.h>
#include <rdma/ib_user_ioctl_verbs.h>
#include <rdma/ib_user_verbs.h>
#include <sys/types.h>

static_assert(sizeof(void*) == 8 && sizeof(long) == 8,
              "verbs_abi.hpp: the asserted layouts are those of an LP64 target (amd64)");

namespace dibs::provider {

/// The provider ABI this header mirrors: the library is libdibs-rdmav34.so, registration goes
/// through verbs_register_driver_34, every symbol is bound at version IBVERBS_PRIVATE_34.
inline constexpr int ibverbs_pabi_version = 34;

} // namespace dibs::provider

extern "C" {

// ---- ccan/list.h ------------------------------------------------------------------------------

/// struct list_node of ccan/list.h: a link in one of libibverbs' intrusive lists. Only libibverbs
/// touches it.
struct ccan_list_node {
    ccan_list_node* next;
    ccan_list_node* prev;
};

// ---- driver.h: matching and devices -----------------------------------------------------------

/// One entry of a provider's match table (driver.h: VERBS_MATCH_SENTINEL/PCI/MODALIAS/DRIVER_ID
/// in kind). The dibs provider matches in its match_device callback; its table holds only the
/// sentinel, but must exist: for a device with a known driver id (rxe0, mlx5_0, ...) libibverbs'
/// try_drivers() walks every provider's table without a NULL check.
enum : std::uint8_t { verbs_match_sentinel = 0 };

struct verbs_match_ent {
    void* driver_data;
    union {
        const char* modalias;
        std::uint64_t driver_id;
    } u;
    std::uint16_t vendor;
    std::uint16_t device;
    std::uint8_t kind;
};

/// An rdma device found in sysfs (or through netlink), before a provider claims it. libibverbs
/// owns it (it frees it after uninit_device); providers only read it.
struct verbs_sysfs_dev {
    ccan_list_node entry;
    void* provider_data;
    const verbs_match_ent* match;
    unsigned int flags;
    char sysfs_name[IBV_SYSFS_NAME_MAX]; ///< "uverbsN"
    dev_t sysfs_cdev;
    char ibdev_name[IBV_SYSFS_NAME_MAX]; ///< the ib_device name, NUL terminated
    char ibdev_path[IBV_SYSFS_PATH_MAX];
    char modalias[512];
    std::uint64_t node_guid;
    std::uint32_t driver_id; ///< enum rdma_driver_id; RDMA_DRIVER_UNKNOWN for out-of-tree drivers
    ibv_node_type node_type;
    int ibdev_idx;
    std::uint32_t num_ports;
    std::uint32_t abi_ver; ///< the device's uverbs ABI version (ib_device_ops.uverbs_abi_ver)
    timespec time_created;
};

struct verbs_device;

/// What a provider registers. libibverbs keeps the pointer: it must have static storage.
struct verbs_device_ops {
    const char* name;

    std::uint32_t match_min_abi_version;
    std::uint32_t match_max_abi_version;
    const verbs_match_ent* match_table;
    const verbs_device_ops** static_providers;

    /// Called after the table match (if any) and has the final say; the ABI range check follows.
    bool (*match_device)(verbs_sysfs_dev* sysfs_dev);

    /// Owns cmd_fd: on failure it must be closed (_verbs_init_and_alloc_context and
    /// verbs_uninit_context do that).
    verbs_context* (*alloc_context)(ibv_device* device, int cmd_fd, void* private_data);
    verbs_context* (*import_context)(ibv_device* device, int cmd_fd);

    /// Returns a zeroed verbs_device (libibverbs fills it); freed by uninit_device.
    verbs_device* (*alloc_device)(verbs_sysfs_dev* sysfs_dev);
    void (*uninit_device)(verbs_device* device);
};

/// A device claimed by a provider.
struct verbs_device {
    ibv_device device; ///< must be first
    const verbs_device_ops* ops;
    int refcount; ///< atomic_int in C (same size and alignment); only libibverbs touches it
    ccan_list_node entry;
    verbs_sysfs_dev* sysfs;
    std::uint64_t core_support;
};

// ---- driver.h: objects ------------------------------------------------------------------------

enum ibv_mr_type {
    IBV_MR_TYPE_MR,
    IBV_MR_TYPE_NULL_MR,
    IBV_MR_TYPE_IMPORTED_MR,
    IBV_MR_TYPE_DMABUF_MR,
};

/// A memory region as libibverbs sees it: the provider allocates it (or a struct embedding it),
/// ibv_cmd_reg_mr fills it, the dereg_mr op receives it.
struct verbs_mr {
    struct ibv_mr ibv_mr;
    ibv_mr_type mr_type;
    int access;
};

// ---- driver.h: the context ops table ----------------------------------------------------------

/// Every op a provider can implement, sorted by name ("Keep sorted" in driver.h). A NULL entry
/// keeps libibverbs' default (verbs_dummy_ops: EOPNOTSUPP or ENOSYS); verbs_set_ops copies only
/// the non-NULL entries.
struct verbs_context_ops {
    int (*advise_mr)(ibv_pd* pd, ibv_advise_mr_advice advice, std::uint32_t flags, ibv_sge* sg_list,
                     std::uint32_t num_sges);
    ibv_dm* (*alloc_dm)(ibv_context* context, ibv_alloc_dm_attr* attr);
    ibv_mw* (*alloc_mw)(ibv_pd* pd, ibv_mw_type type);
    ibv_mr* (*alloc_null_mr)(ibv_pd* pd);
    ibv_pd* (*alloc_parent_domain)(ibv_context* context, ibv_parent_domain_init_attr* attr);
    ibv_pd* (*alloc_pd)(ibv_context* context);
    ibv_td* (*alloc_td)(ibv_context* context, ibv_td_init_attr* init_attr);
    void (*async_event)(ibv_context* context, ibv_async_event* event);
    int (*attach_counters_point_flow)(ibv_counters* counters, ibv_counter_attach_attr* attr,
                                      ibv_flow* flow);
    int (*attach_mcast)(ibv_qp* qp, const ibv_gid* gid, std::uint16_t lid);
    int (*bind_mw)(ibv_qp* qp, ibv_mw* mw, ibv_mw_bind* mw_bind);
    int (*close_xrcd)(ibv_xrcd* xrcd);
    void (*cq_event)(ibv_cq* cq);
    ibv_ah* (*create_ah)(ibv_pd* pd, ibv_ah_attr* attr);
    ibv_counters* (*create_counters)(ibv_context* context, ibv_counters_init_attr* init_attr);
    ibv_cq* (*create_cq)(ibv_context* context, int cqe, ibv_comp_channel* channel, int comp_vector);
    ibv_cq_ex* (*create_cq_ex)(ibv_context* context, ibv_cq_init_attr_ex* init_attr);
    ibv_flow* (*create_flow)(ibv_qp* qp, ibv_flow_attr* flow_attr);
    ibv_flow_action* (*create_flow_action_esp)(ibv_context* context,
                                               ibv_flow_action_esp_attr* attr);
    ibv_qp* (*create_qp)(ibv_pd* pd, ibv_qp_init_attr* attr);
    ibv_qp* (*create_qp_ex)(ibv_context* context, ibv_qp_init_attr_ex* qp_init_attr_ex);
    ibv_rwq_ind_table* (*create_rwq_ind_table)(ibv_context* context,
                                               ibv_rwq_ind_table_init_attr* init_attr);
    ibv_srq* (*create_srq)(ibv_pd* pd, ibv_srq_init_attr* srq_init_attr);
    ibv_srq* (*create_srq_ex)(ibv_context* context, ibv_srq_init_attr_ex* srq_init_attr_ex);
    ibv_wq* (*create_wq)(ibv_context* context, ibv_wq_init_attr* wq_init_attr);
    int (*dealloc_mw)(ibv_mw* mw);
    int (*dealloc_pd)(ibv_pd* pd);
    int (*dealloc_td)(ibv_td* td);
    int (*dereg_mr)(verbs_mr* vmr);
    int (*destroy_ah)(ibv_ah* ah);
    int (*destroy_counters)(ibv_counters* counters);
    int (*destroy_cq)(ibv_cq* cq);
    int (*destroy_flow)(ibv_flow* flow);
    int (*destroy_flow_action)(ibv_flow_action* action);
    int (*destroy_qp)(ibv_qp* qp);
    int (*destroy_rwq_ind_table)(ibv_rwq_ind_table* rwq_ind_table);
    int (*destroy_srq)(ibv_srq* srq);
    int (*destroy_wq)(ibv_wq* wq);
    int (*detach_mcast)(ibv_qp* qp, const ibv_gid* gid, std::uint16_t lid);
    void (*free_context)(ibv_context* context);
    int (*free_dm)(ibv_dm* dm);
    int (*get_srq_num)(ibv_srq* srq, std::uint32_t* srq_num);
    ibv_dm* (*import_dm)(ibv_context* context, std::uint32_t dm_handle);
    ibv_mr* (*import_mr)(ibv_pd* pd, std::uint32_t mr_handle);
    ibv_pd* (*import_pd)(ibv_context* context, std::uint32_t pd_handle);
    int (*modify_cq)(ibv_cq* cq, ibv_modify_cq_attr* attr);
    int (*modify_flow_action_esp)(ibv_flow_action* action, ibv_flow_action_esp_attr* attr);
    int (*modify_qp)(ibv_qp* qp, ibv_qp_attr* attr, int attr_mask);
    int (*modify_qp_rate_limit)(ibv_qp* qp, ibv_qp_rate_limit_attr* attr);
    int (*modify_srq)(ibv_srq* srq, ibv_srq_attr* srq_attr, int srq_attr_mask);
    int (*modify_wq)(ibv_wq* wq, ibv_wq_attr* wq_attr);
    ibv_qp* (*open_qp)(ibv_context* context, ibv_qp_open_attr* attr);
    ibv_xrcd* (*open_xrcd)(ibv_context* context, ibv_xrcd_init_attr* xrcd_init_attr);
    int (*poll_cq)(ibv_cq* cq, int num_entries, ibv_wc* wc);
    int (*post_recv)(ibv_qp* qp, ibv_recv_wr* wr, ibv_recv_wr** bad_wr);
    int (*post_send)(ibv_qp* qp, ibv_send_wr* wr, ibv_send_wr** bad_wr);
    int (*post_srq_ops)(ibv_srq* srq, ibv_ops_wr* op, ibv_ops_wr** bad_op);
    int (*post_srq_recv)(ibv_srq* srq, ibv_recv_wr* recv_wr, ibv_recv_wr** bad_recv_wr);
    int (*query_device_ex)(ibv_context* context, const ibv_query_device_ex_input* input,
                           ibv_device_attr_ex* attr, std::size_t attr_size);
    int (*query_ece)(ibv_qp* qp, ibv_ece* ece);
    int (*query_port)(ibv_context* context, std::uint8_t port_num, ibv_port_attr* port_attr);
    int (*query_qp)(ibv_qp* qp, ibv_qp_attr* attr, int attr_mask, ibv_qp_init_attr* init_attr);
    int (*query_qp_data_in_order)(ibv_qp* qp, ibv_wr_opcode op, std::uint32_t flags);
    int (*query_rt_values)(ibv_context* context, ibv_values_ex* values);
    int (*query_srq)(ibv_srq* srq, ibv_srq_attr* srq_attr);
    int (*read_counters)(ibv_counters* counters, std::uint64_t* counters_value,
                         std::uint32_t ncounters, std::uint32_t flags);
    ibv_mr* (*reg_dm_mr)(ibv_pd* pd, ibv_dm* dm, std::uint64_t dm_offset, std::size_t length,
                         unsigned int access);
    ibv_mr* (*reg_dmabuf_mr)(ibv_pd* pd, std::uint64_t offset, std::size_t length,
                             std::uint64_t iova, int fd, int access);
    ibv_mr* (*reg_mr)(ibv_pd* pd, void* addr, std::size_t length, std::uint64_t hca_va, int access);
    int (*req_notify_cq)(ibv_cq* cq, int solicited_only);
    int (*rereg_mr)(verbs_mr* vmr, int flags, ibv_pd* pd, void* addr, std::size_t length,
                    int access);
    int (*resize_cq)(ibv_cq* cq, int cqe);
    int (*set_ece)(ibv_qp* qp, ibv_ece* ece);
    void (*unimport_dm)(ibv_dm* dm);
    void (*unimport_mr)(ibv_mr* mr);
    void (*unimport_pd)(ibv_pd* pd);
};

// ---- kern-abi.h: command buffers --------------------------------------------------------------
//
// kern-abi.h declares each write() command as the uverbs header followed by the kernel's request
// structure (its DECLARE_CMD/DECLARE_CMDX); a driver payload, if any, would follow `core`. The
// names are libibverbs' (struct ibv_<cmd>); several coincide with public verbs functions, so
// they are always spelt with `struct`. libibverbs fills hdr and core itself: callers pass them
// zeroed. Responses are the kernel's ib_uverbs_<cmd>_resp structures themselves.
//
// Each kernel request ends in a flexible array (driver_data[]), so nesting it is a GNU extension
// (kern-abi.h does the same in C): -Wpedantic is silenced for these definitions only.

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
struct ibv_get_context {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_get_context core;
};
struct ibv_query_port {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_query_port core;
};
struct ibv_alloc_pd {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_alloc_pd core;
};
struct ibv_reg_mr {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_reg_mr core;
};
struct ibv_rereg_mr {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_rereg_mr core;
};
struct ibv_create_cq {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_create_cq core;
};
struct ibv_resize_cq {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_resize_cq core;
};
struct ibv_create_qp {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_create_qp core;
};
struct ibv_modify_qp {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_modify_qp core;
};
struct ibv_query_qp {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_query_qp core;
};
struct ibv_create_srq {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_create_srq core;
};
struct ibv_modify_srq {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_modify_srq core;
};
struct ibv_query_srq {
    ib_uverbs_cmd_hdr hdr;
    ib_uverbs_query_srq core;
};
#pragma GCC diagnostic pop

// ---- exported functions (all at IBVERBS_PRIVATE_34) -------------------------------------------

/// What PROVIDER_DRIVER's constructor calls; the PABI number is part of the name.
void verbs_register_driver_34(const verbs_device_ops* ops);

/// calloc(alloc_size) and initialise the verbs_context at byte offset (uintptr_t)context_offset
/// (verbs_init_and_alloc_context() in driver.h). Closes cmd_fd and returns NULL (errno set) on
/// failure. Free with verbs_uninit_context() and free().
// NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): libibverbs' name
void* _verbs_init_and_alloc_context(ibv_device* device, int cmd_fd, std::size_t alloc_size,
                                    verbs_context* context_offset, std::uint32_t driver_id);
/// Releases what _verbs_init_and_alloc_context set up, closing cmd_fd; does not free the memory.
void verbs_uninit_context(verbs_context* context);
/// Installs the non-NULL entries of ops.
void verbs_set_ops(verbs_context* vctx, const verbs_context_ops* ops);

// The ibv_cmd_* functions return 0 or a positive errno value unless noted.
int ibv_cmd_get_context(verbs_context* context, struct ibv_get_context* cmd, std::size_t cmd_size,
                        ib_uverbs_get_context_resp* resp, std::size_t resp_size);
int ibv_cmd_query_device_any(ibv_context* context, const ibv_query_device_ex_input* input,
                             ibv_device_attr_ex* attr, std::size_t attr_size,
                             ib_uverbs_ex_query_device_resp* resp, std::size_t* resp_size);
int ibv_cmd_query_port(ibv_context* context, std::uint8_t port_num, ibv_port_attr* port_attr,
                       struct ibv_query_port* cmd, std::size_t cmd_size);
int ibv_cmd_alloc_pd(ibv_context* context, ibv_pd* pd, struct ibv_alloc_pd* cmd,
                     std::size_t cmd_size, ib_uverbs_alloc_pd_resp* resp, std::size_t resp_size);
int ibv_cmd_dealloc_pd(ibv_pd* pd);
int ibv_cmd_reg_mr(ibv_pd* pd, void* addr, std::size_t length, std::uint64_t hca_va, int access,
                   verbs_mr* vmr, struct ibv_reg_mr* cmd, std::size_t cmd_size,
                   ib_uverbs_reg_mr_resp* resp, std::size_t resp_size);
/// Updates vmr's keys (and context) from the response; addr, length and pd are the caller's.
int ibv_cmd_rereg_mr(verbs_mr* vmr, std::uint32_t flags, void* addr, std::size_t length,
                     std::uint64_t hca_va, int access, ibv_pd* pd, struct ibv_rereg_mr* cmd,
                     std::size_t cmd_sz, ib_uverbs_rereg_mr_resp* resp, std::size_t resp_sz);
int ibv_cmd_dereg_mr(verbs_mr* vmr);
int ibv_cmd_create_cq(ibv_context* context, int cqe, ibv_comp_channel* channel, int comp_vector,
                      ibv_cq* cq, struct ibv_create_cq* cmd, std::size_t cmd_size,
                      ib_uverbs_create_cq_resp* resp, std::size_t resp_size);
int ibv_cmd_destroy_cq(ibv_cq* cq);
/// Sets cq->cqe from the response.
int ibv_cmd_resize_cq(ibv_cq* cq, int cqe, struct ibv_resize_cq* cmd, std::size_t cmd_size,
                      ib_uverbs_resize_cq_resp* resp, std::size_t resp_size);
/// Returns the number of completions, or -1 on failure (the write() errno, or ENOMEM).
int ibv_cmd_poll_cq(ibv_cq* cq, int ne, ibv_wc* wc);
int ibv_cmd_req_notify_cq(ibv_cq* cq, int solicited_only);
int ibv_cmd_create_qp(ibv_pd* pd, ibv_qp* qp, ibv_qp_init_attr* attr, struct ibv_create_qp* cmd,
                      std::size_t cmd_size, ib_uverbs_create_qp_resp* resp, std::size_t resp_size);
int ibv_cmd_modify_qp(ibv_qp* qp, ibv_qp_attr* attr, int attr_mask, struct ibv_modify_qp* cmd,
                      std::size_t cmd_size);
int ibv_cmd_query_qp(ibv_qp* qp, ibv_qp_attr* qp_attr, int attr_mask,
                     ibv_qp_init_attr* qp_init_attr, struct ibv_query_qp* cmd,
                     std::size_t cmd_size);
int ibv_cmd_destroy_qp(ibv_qp* qp);
/// On failure *bad_wr is the first work request not posted.
int ibv_cmd_post_send(ibv_qp* ibqp, ibv_send_wr* wr, ibv_send_wr** bad_wr);
int ibv_cmd_post_recv(ibv_qp* ibqp, ibv_recv_wr* wr, ibv_recv_wr** bad_wr);
/// Sets srq->handle and context, and attr's max_wr and max_sge from the response.
int ibv_cmd_create_srq(ibv_pd* pd, ibv_srq* srq, ibv_srq_init_attr* attr,
                       struct ibv_create_srq* cmd, std::size_t cmd_size,
                       ib_uverbs_create_srq_resp* resp, std::size_t resp_size);
int ibv_cmd_modify_srq(ibv_srq* srq, ibv_srq_attr* srq_attr, int srq_attr_mask,
                       struct ibv_modify_srq* cmd, std::size_t cmd_size);
int ibv_cmd_query_srq(ibv_srq* srq, ibv_srq_attr* srq_attr, struct ibv_query_srq* cmd,
                      std::size_t cmd_size);
int ibv_cmd_destroy_srq(ibv_srq* srq);
int ibv_cmd_post_srq_recv(ibv_srq* srq, ibv_recv_wr* wr, ibv_recv_wr** bad_wr);

} // extern "C"

namespace dibs::provider {

/// verbs_register_driver of driver.h: the PABI-numbered symbol this header binds to.
inline void verbs_register_driver(const verbs_device_ops* ops) {
    verbs_register_driver_34(ops);
}

// ---- layout checks ----------------------------------------------------------------------------
//
// Numbers measured on amd64 by compiling rdma-core v44.0's own libibverbs/driver.h (with its
// kernel-headers and a kern-abi struct file generated by buildlib/make_abi_structs.py) and
// printing sizeof/offsetof. Fields libibverbs' Debian binary reads in match_device
// (match_min/max_abi_version at 8/12, abi_ver at 968, driver_id at 952) were also found at those
// offsets in the disassembly of /usr/lib/x86_64-linux-gnu/libibverbs.so.1 (44.0-2).

// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): offsetof() needs the member name
#define DIBS_ABI_CHECK_OFFSET(type, member, offset)                                                \
    static_assert(offsetof(type, member) == (offset), #type "::" #member " moved")

// ccan/list.h, public verbs.h constants and public structures embedded in private ones.
static_assert(sizeof(ccan_list_node) == 16);
static_assert(IBV_SYSFS_NAME_MAX == 64 && IBV_SYSFS_PATH_MAX == 256);
static_assert(sizeof(ibv_device) == 664);
static_assert(sizeof(ibv_mr) == 48);
static_assert(sizeof(verbs_context) == 648);
static_assert(sizeof(ibv_node_type) == 4 && sizeof(ibv_mr_type) == 4);
static_assert(sizeof(dev_t) == 8 && sizeof(timespec) == 16);
static_assert(RDMA_DRIVER_UNKNOWN == 0);

// struct verbs_match_ent: 24 bytes.
static_assert(sizeof(verbs_match_ent) == 24);
DIBS_ABI_CHECK_OFFSET(verbs_match_ent, u, 8);
DIBS_ABI_CHECK_OFFSET(verbs_match_ent, vendor, 16);
DIBS_ABI_CHECK_OFFSET(verbs_match_ent, device, 18);
DIBS_ABI_CHECK_OFFSET(verbs_match_ent, kind, 20);

// struct verbs_sysfs_dev: 992 bytes.
static_assert(sizeof(verbs_sysfs_dev) == 992);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, provider_data, 16);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, match, 24);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, flags, 32);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, sysfs_name, 36);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, sysfs_cdev, 104);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, ibdev_name, 112);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, ibdev_path, 176);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, modalias, 432);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, node_guid, 944);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, driver_id, 952);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, node_type, 956);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, ibdev_idx, 960);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, num_ports, 964);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, abi_ver, 968);
DIBS_ABI_CHECK_OFFSET(verbs_sysfs_dev, time_created, 976);

// struct verbs_device_ops: 72 bytes.
static_assert(sizeof(verbs_device_ops) == 72);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, match_min_abi_version, 8);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, match_max_abi_version, 12);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, match_table, 16);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, static_providers, 24);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, match_device, 32);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, alloc_context, 40);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, import_context, 48);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, alloc_device, 56);
DIBS_ABI_CHECK_OFFSET(verbs_device_ops, uninit_device, 64);

// struct verbs_device: 712 bytes.
static_assert(sizeof(verbs_device) == 712);
DIBS_ABI_CHECK_OFFSET(verbs_device, device, 0);
DIBS_ABI_CHECK_OFFSET(verbs_device, ops, 664);
DIBS_ABI_CHECK_OFFSET(verbs_device, refcount, 672);
DIBS_ABI_CHECK_OFFSET(verbs_device, entry, 680);
DIBS_ABI_CHECK_OFFSET(verbs_device, sysfs, 696);
DIBS_ABI_CHECK_OFFSET(verbs_device, core_support, 704);

// struct verbs_mr: 56 bytes.
static_assert(sizeof(verbs_mr) == 56);
DIBS_ABI_CHECK_OFFSET(verbs_mr, ibv_mr, 0);
DIBS_ABI_CHECK_OFFSET(verbs_mr, mr_type, 48);
DIBS_ABI_CHECK_OFFSET(verbs_mr, access, 52);

// struct verbs_context_ops: 76 function pointers, 608 bytes, in this order (the position of each
// op in v44.0; an op added upstream shifts the ones after it).
static_assert(sizeof(verbs_context_ops) == 608 && sizeof(verbs_context_ops) == 76 * sizeof(void*));
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): offsetof() needs the member name
#define DIBS_ABI_CHECK_OP(op, index)                                                               \
    DIBS_ABI_CHECK_OFFSET(verbs_context_ops, op, (index) * sizeof(void*))
DIBS_ABI_CHECK_OP(advise_mr, 0);
DIBS_ABI_CHECK_OP(alloc_dm, 1);
DIBS_ABI_CHECK_OP(alloc_mw, 2);
DIBS_ABI_CHECK_OP(alloc_null_mr, 3);
DIBS_ABI_CHECK_OP(alloc_parent_domain, 4);
DIBS_ABI_CHECK_OP(alloc_pd, 5);
DIBS_ABI_CHECK_OP(alloc_td, 6);
DIBS_ABI_CHECK_OP(async_event, 7);
DIBS_ABI_CHECK_OP(attach_counters_point_flow, 8);
DIBS_ABI_CHECK_OP(attach_mcast, 9);
DIBS_ABI_CHECK_OP(bind_mw, 10);
DIBS_ABI_CHECK_OP(close_xrcd, 11);
DIBS_ABI_CHECK_OP(cq_event, 12);
DIBS_ABI_CHECK_OP(create_ah, 13);
DIBS_ABI_CHECK_OP(create_counters, 14);
DIBS_ABI_CHECK_OP(create_cq, 15);
DIBS_ABI_CHECK_OP(create_cq_ex, 16);
DIBS_ABI_CHECK_OP(create_flow, 17);
DIBS_ABI_CHECK_OP(create_flow_action_esp, 18);
DIBS_ABI_CHECK_OP(create_qp, 19);
DIBS_ABI_CHECK_OP(create_qp_ex, 20);
DIBS_ABI_CHECK_OP(create_rwq_ind_table, 21);
DIBS_ABI_CHECK_OP(create_srq, 22);
DIBS_ABI_CHECK_OP(create_srq_ex, 23);
DIBS_ABI_CHECK_OP(create_wq, 24);
DIBS_ABI_CHECK_OP(dealloc_mw, 25);
DIBS_ABI_CHECK_OP(dealloc_pd, 26);
DIBS_ABI_CHECK_OP(dealloc_td, 27);
DIBS_ABI_CHECK_OP(dereg_mr, 28);
DIBS_ABI_CHECK_OP(destroy_ah, 29);
DIBS_ABI_CHECK_OP(destroy_counters, 30);
DIBS_ABI_CHECK_OP(destroy_cq, 31);
DIBS_ABI_CHECK_OP(destroy_flow, 32);
DIBS_ABI_CHECK_OP(destroy_flow_action, 33);
DIBS_ABI_CHECK_OP(destroy_qp, 34);
DIBS_ABI_CHECK_OP(destroy_rwq_ind_table, 35);
DIBS_ABI_CHECK_OP(destroy_srq, 36);
DIBS_ABI_CHECK_OP(destroy_wq, 37);
DIBS_ABI_CHECK_OP(detach_mcast, 38);
DIBS_ABI_CHECK_OP(free_context, 39);
DIBS_ABI_CHECK_OP(free_dm, 40);
DIBS_ABI_CHECK_OP(get_srq_num, 41);
DIBS_ABI_CHECK_OP(import_dm, 42);
DIBS_ABI_CHECK_OP(import_mr, 43);
DIBS_ABI_CHECK_OP(import_pd, 44);
DIBS_ABI_CHECK_OP(modify_cq, 45);
DIBS_ABI_CHECK_OP(modify_flow_action_esp, 46);
DIBS_ABI_CHECK_OP(modify_qp, 47);
DIBS_ABI_CHECK_OP(modify_qp_rate_limit, 48);
DIBS_ABI_CHECK_OP(modify_srq, 49);
DIBS_ABI_CHECK_OP(modify_wq, 50);
DIBS_ABI_CHECK_OP(open_qp, 51);
DIBS_ABI_CHECK_OP(open_xrcd, 52);
DIBS_ABI_CHECK_OP(poll_cq, 53);
DIBS_ABI_CHECK_OP(post_recv, 54);
DIBS_ABI_CHECK_OP(post_send, 55);
DIBS_ABI_CHECK_OP(post_srq_ops, 56);
DIBS_ABI_CHECK_OP(post_srq_recv, 57);
DIBS_ABI_CHECK_OP(query_device_ex, 58);
DIBS_ABI_CHECK_OP(query_ece, 59);
DIBS_ABI_CHECK_OP(query_port, 60);
DIBS_ABI_CHECK_OP(query_qp, 61);
DIBS_ABI_CHECK_OP(query_qp_data_in_order, 62);
DIBS_ABI_CHECK_OP(query_rt_values, 63);
DIBS_ABI_CHECK_OP(query_srq, 64);
DIBS_ABI_CHECK_OP(read_counters, 65);
DIBS_ABI_CHECK_OP(reg_dm_mr, 66);
DIBS_ABI_CHECK_OP(reg_dmabuf_mr, 67);
DIBS_ABI_CHECK_OP(reg_mr, 68);
DIBS_ABI_CHECK_OP(req_notify_cq, 69);
DIBS_ABI_CHECK_OP(rereg_mr, 70);
DIBS_ABI_CHECK_OP(resize_cq, 71);
DIBS_ABI_CHECK_OP(set_ece, 72);
DIBS_ABI_CHECK_OP(unimport_dm, 73);
DIBS_ABI_CHECK_OP(unimport_mr, 74);
DIBS_ABI_CHECK_OP(unimport_pd, 75);
#undef DIBS_ABI_CHECK_OP

// Command buffers: the uverbs header, then the kernel request with no padding in between; the
// responses are the kernel's own structures.
// NOLINTNEXTLINE(cppcoreguidelines-macro-usage): offsetof() needs the member name
#define DIBS_ABI_CHECK_CMD(cmd, size)                                                              \
    static_assert(sizeof(struct cmd) == (size) && offsetof(struct cmd, core) == 8 &&               \
                  std::is_standard_layout_v<struct cmd>)
static_assert(sizeof(ib_uverbs_cmd_hdr) == 8);
DIBS_ABI_CHECK_CMD(ibv_get_context, 16);
DIBS_ABI_CHECK_CMD(ibv_query_port, 24);
DIBS_ABI_CHECK_CMD(ibv_alloc_pd, 16);
DIBS_ABI_CHECK_CMD(ibv_reg_mr, 48);
DIBS_ABI_CHECK_CMD(ibv_rereg_mr, 56);
DIBS_ABI_CHECK_CMD(ibv_create_cq, 40);
DIBS_ABI_CHECK_CMD(ibv_resize_cq, 24);
DIBS_ABI_CHECK_CMD(ibv_create_qp, 64);
DIBS_ABI_CHECK_CMD(ibv_modify_qp, 120);
DIBS_ABI_CHECK_CMD(ibv_query_qp, 24);
DIBS_ABI_CHECK_CMD(ibv_create_srq, 40);
DIBS_ABI_CHECK_CMD(ibv_modify_srq, 24);
DIBS_ABI_CHECK_CMD(ibv_query_srq, 24);
#undef DIBS_ABI_CHECK_CMD
static_assert(sizeof(ib_uverbs_get_context_resp) == 8);
static_assert(sizeof(ib_uverbs_alloc_pd_resp) == 4);
static_assert(sizeof(ib_uverbs_reg_mr_resp) == 12);
static_assert(sizeof(ib_uverbs_rereg_mr_resp) == 8);
static_assert(sizeof(ib_uverbs_create_cq_resp) == 8);
static_assert(sizeof(ib_uverbs_resize_cq_resp) == 8);
static_assert(sizeof(ib_uverbs_create_qp_resp) == 32);
static_assert(sizeof(ib_uverbs_create_srq_resp) == 16);
static_assert(sizeof(ib_uverbs_ex_query_device_resp) == 304);

#undef DIBS_ABI_CHECK_OFFSET

} // namespace dibs::provider

#endif // DIBS_PROVIDER_VERBS_ABI_HPP
