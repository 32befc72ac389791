// SPDX-License-Identifier: GPL-2.0
//
// Registration of the dibs provider with libibverbs: device matching, device and context
// lifetime, and the one verbs_context_ops table.
//
// Loading: libibverbs dlopen()s libdibs-rdmav34.so (from /etc/libibverbs.d/dibs.driver, or from
// RDMAV_DRIVERS) and the constructor below registers dibs_device_ops. For every uverbs device
// libibverbs then asks match_device(), checks the ABI range, and calls alloc_device();
// ibv_open_device() calls alloc_context(), which issues GET_CONTEXT and installs the ops.
#include "dibs.hpp"

#include "match.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace dibs::provider {

// The library's file name (-rdmavNN.so, from CMake) and the ABI declared in verbs_abi.hpp.
static_assert(DIBS_IBVERBS_PABI == ibverbs_pabi_version);

int current_exception_errno() noexcept {
    try {
        throw;
    } catch (const std::system_error& e) {
        const int value = e.code().value();
        const bool is_errno = e.code().category() == std::generic_category() ||
                              e.code().category() == std::system_category();
        return is_errno && value > 0 ? value : EIO;
    } catch (const std::bad_alloc&) {
        return ENOMEM;
    } catch (...) {
        return EIO; // nothing in the provider throws anything else
    }
}

namespace {

// ---- the ops table ----------------------------------------------------------------------------

void free_context(ibv_context* ibctx) noexcept;

/// Every verb the provider implements; the NULL entries keep libibverbs' EOPNOTSUPP defaults.
/// Sorted like the structure (designated initializers must follow its order). g++ 12 warns about
/// every op left out of the designated initializer list: leaving them NULL is the point.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
const verbs_context_ops dibs_context_ops = {
    .alloc_pd = alloc_pd,
    .create_cq = create_cq,
    .create_qp = create_qp,
    .create_srq = create_srq,
    .dealloc_pd = dealloc_pd,
    .dereg_mr = dereg_mr,
    .destroy_cq = destroy_cq,
    .destroy_qp = destroy_qp,
    .destroy_srq = destroy_srq,
    .free_context = free_context,
    .modify_qp = modify_qp,
    .modify_srq = modify_srq,
    .poll_cq = poll_cq,
    .post_recv = post_recv,
    .post_send = post_send,
    .post_srq_recv = post_srq_recv,
    .query_device_ex = query_device_ex,
    .query_port = query_port,
    .query_qp = query_qp,
    .query_srq = query_srq,
    .reg_mr = reg_mr,
    .req_notify_cq = req_notify_cq,
    .rereg_mr = rereg_mr,
    .resize_cq = resize_cq,
};
#pragma GCC diagnostic pop

// ---- context ----------------------------------------------------------------------------------

/// Releases a context from _verbs_init_and_alloc_context(): closes cmd_fd, frees the memory.
struct context_del {
    void operator()(dibs_context* ctx) const noexcept {
        const std::unique_ptr<mr_table> mrs{ctx->mrs}; // released here
        verbs_uninit_context(&ctx->ibctx);
        // libibverbs calloc()ed it
        std::free(ctx); // NOLINT(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory)
    }
};
using context_ptr = std::unique_ptr<dibs_context, context_del>;

verbs_context* alloc_context(ibv_device* ibdev, int cmd_fd, void* /*private_data*/) noexcept {
    return create_boundary([&] {
        // dibs_context starts with its verbs_context: the offset argument is 0. The driver id
        // is RDMA_DRIVER_UNKNOWN, the id the kernel driver registers with (the ioctl path
        // rejects a mismatch).
        context_ptr ctx{static_cast<dibs_context*>(_verbs_init_and_alloc_context(
            ibdev, cmd_fd, sizeof(dibs_context), nullptr, RDMA_DRIVER_UNKNOWN))};
        if (!ctx) {
            const int err = errno; // cmd_fd is closed already
            throw verbs_error(err, "_verbs_init_and_alloc_context");
        }

        struct ibv_get_context cmd {};
        ib_uverbs_get_context_resp resp{};
        check_cmd(ibv_cmd_get_context(&ctx->ibctx, &cmd, sizeof(cmd), &resp, sizeof(resp)),
                  "ibv_cmd_get_context");

        ctx->mrs = std::make_unique<mr_table>().release(); // owned by the context: context_del
        ctx->bypass = bypass_enabled();
        verbs_set_ops(&ctx->ibctx, &dibs_context_ops);
        return &ctx.release()->ibctx;
    });
}

void free_context(ibv_context* ibctx) noexcept {
    const context_ptr ctx{to_dibs_context(ibctx)}; // released here
}

// ---- device -----------------------------------------------------------------------------------

bool match_device(verbs_sysfs_dev* sysfs_dev) noexcept {
    const std::span<const char> raw{sysfs_dev->ibdev_name}; // NUL terminated by libibverbs
    const std::string_view name{raw.data(), ::strnlen(raw.data(), raw.size())};
    // A dibs device with the wrong ABI version is claimed here and then refused by libibverbs'
    // range check (match_min/max_abi_version), which prints why: "Driver dibs does not support
    // the kernel ABI of N (supports 1 to 1) for device ...".
    return classify_device(name, sysfs_dev->abi_ver) != device_match::foreign;
}

verbs_device* alloc_device(verbs_sysfs_dev* /*sysfs_dev*/) noexcept {
    return create_boundary([] {
        auto dev = std::make_unique<dibs_device>(); // zeroed: libibverbs fills it in
        return &dev.release()->ibdev;
    });
}

void uninit_device(verbs_device* ibdev) noexcept {
    const std::unique_ptr<dibs_device> dev{to_dibs_device(ibdev)}; // released here
}

// Only the sentinel: match_device() decides (see verbs_match_ent).
const verbs_match_ent dibs_match_table[] = {{.driver_data = nullptr,
                                             .u = {.modalias = nullptr},
                                             .vendor = 0,
                                             .device = 0,
                                             .kind = verbs_match_sentinel}};

const verbs_device_ops dibs_device_ops = {
    .name = "dibs",
    .match_min_abi_version = abi_version,
    .match_max_abi_version = abi_version,
    .match_table = dibs_match_table,
    .static_providers = nullptr,
    .match_device = match_device,
    .alloc_context = alloc_context,
    .import_context = nullptr,
    .alloc_device = alloc_device,
    .uninit_device = uninit_device,
};

/// PROVIDER_DRIVER(dibs, dibs_device_ops) of driver.h, minus the verbs_provider_dibs alias
/// (used only for static linking into libibverbs).
[[gnu::constructor]] void register_driver() noexcept {
    verbs_register_driver(&dibs_device_ops);
}

} // namespace
} // namespace dibs::provider
