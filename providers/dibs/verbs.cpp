// SPDX-License-Identifier: GPL-2.0
//
// Device and port queries, protection domains and memory regions: all through the uverbs
// commands, with no dibs-specific payload. MRs are also entered into the context's mr_table,
// for the bypass data path's local checks (bypass.hpp); rereg_mr gets new keys (the kernel
// replaces the MR).
#include "dibs.hpp"

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <span>

namespace dibs::provider {

int query_device_ex(ibv_context* ibctx, const ibv_query_device_ex_input* input,
                    ibv_device_attr_ex* attr, std::size_t attr_size) noexcept {
    ib_uverbs_ex_query_device_resp resp{};
    std::size_t resp_size = sizeof(resp);
    const int err =
        cmd_errno(ibv_cmd_query_device_any(ibctx, input, attr, attr_size, &resp, &resp_size));
    if (err != 0) {
        return err;
    }

    // The kernel reports fw_ver as a number, 16 bits each for major.minor.sub_minor; fw_ver
    // lies in orig_attr, which every caller's attr_size covers.
    const std::uint64_t fw = resp.base.fw_ver;
    const std::span<char> text{attr->orig_attr.fw_ver};
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-vararg)
    static_cast<void>(std::snprintf(text.data(), text.size(), "%" PRIu64 ".%" PRIu64 ".%" PRIu64,
                                    (fw >> 32) & 0xffff, (fw >> 16) & 0xffff, fw & 0xffff));
    return 0;
}

int query_port(ibv_context* ibctx, std::uint8_t port_num, ibv_port_attr* attr) noexcept {
    struct ibv_query_port cmd {};
    return cmd_errno(ibv_cmd_query_port(ibctx, port_num, attr, &cmd, sizeof(cmd)));
}

ibv_pd* alloc_pd(ibv_context* ibctx) noexcept {
    return create_boundary([&] {
        auto pd = std::make_unique<dibs_pd>();
        struct ibv_alloc_pd cmd {};
        ib_uverbs_alloc_pd_resp resp{};
        check_cmd(ibv_cmd_alloc_pd(ibctx, &pd->ibpd, &cmd, sizeof(cmd), &resp, sizeof(resp)),
                  "ibv_cmd_alloc_pd");
        return &pd.release()->ibpd;
    });
}

int dealloc_pd(ibv_pd* ibpd) noexcept {
    // On failure the PD stays alive (the kernel still holds it) and the caller may retry.
    if (const int err = cmd_errno(ibv_cmd_dealloc_pd(ibpd)); err != 0) {
        return err;
    }
    const std::unique_ptr<dibs_pd> pd{to_dibs_pd(ibpd)}; // released here
    return 0;
}

ibv_mr* reg_mr(ibv_pd* ibpd, void* addr, std::size_t length, std::uint64_t hca_va,
               int access) noexcept {
    return create_boundary([&] {
        auto mr = std::make_unique<dibs_mr>();
        struct ibv_reg_mr cmd {};
        ib_uverbs_reg_mr_resp resp{};
        check_cmd(ibv_cmd_reg_mr(ibpd, addr, length, hca_va, access, &mr->vmr, &cmd, sizeof(cmd),
                                 &resp, sizeof(resp)),
                  "ibv_cmd_reg_mr");
        mr->vmr.access = access;
        try {
            // libibverbs fills in addr, length and pd only after this returns
            to_dibs_context(ibpd->context)
                ->mrs->add(mr->vmr.ibv_mr.lkey, addr, length, ibpd, access);
        } catch (...) {
            (void)ibv_cmd_dereg_mr(&mr->vmr);
            throw;
        }
        return &mr.release()->vmr.ibv_mr;
    });
}

int rereg_mr(verbs_mr* vmr, int flags, ibv_pd* ibpd, void* addr, std::size_t length,
             int access) noexcept {
    // The kernel replaces the MR (new keys; the old ones stop working). The bypass path stops
    // using the old lkey first, as for dereg_mr, and learns the new one after.
    mr_table& mrs = *to_dibs_context(vmr->ibv_mr.context)->mrs;
    const ibv_mr& m = vmr->ibv_mr;
    const bool trans = (flags & IBV_REREG_MR_CHANGE_TRANSLATION) != 0;
    // what the MR is after: libibverbs updates addr, length and pd only after this returns
    void* const start = trans ? addr : m.addr;
    const std::size_t len = trans ? length : m.length;
    ibv_pd* const pd = (flags & IBV_REREG_MR_CHANGE_PD) != 0 ? ibpd : m.pd;
    const int acc = (flags & IBV_REREG_MR_CHANGE_ACCESS) != 0 ? access : vmr->access;
    mrs.remove(m.lkey);
    struct ibv_rereg_mr cmd {};
    ib_uverbs_rereg_mr_resp resp{};
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the MR's iova is its address
    const auto iova = reinterpret_cast<std::uintptr_t>(start);
    const int err =
        cmd_errno(ibv_cmd_rereg_mr(vmr, static_cast<std::uint32_t>(flags), start, len, iova, acc,
                                   pd, &cmd, sizeof(cmd), &resp, sizeof(resp)));
    if (err == 0) {
        vmr->access = acc;
    }
    try {
        // on failure the old MR, unchanged
        mrs.add(m.lkey, err == 0 ? start : m.addr, err == 0 ? len : m.length, err == 0 ? pd : m.pd,
                vmr->access);
    } catch (...) { // NOLINT(bugprone-empty-catch): the bypass path then leaves it to the kernel
    }
    return err;
}

int dereg_mr(verbs_mr* vmr) noexcept {
    // first: the bypass path stops using it before the kernel lets it go
    mr_table& mrs = *to_dibs_context(vmr->ibv_mr.context)->mrs;
    const ibv_mr& m = vmr->ibv_mr;
    mrs.remove(m.lkey);
    if (const int err = cmd_errno(ibv_cmd_dereg_mr(vmr)); err != 0) {
        try {
            mrs.add(m.lkey, m.addr, m.length, m.pd, vmr->access);
        } catch (
            ...) { // NOLINT(bugprone-empty-catch): the bypass path then leaves it to the kernel
        }
        return err;
    }
    const std::unique_ptr<dibs_mr> mr{to_dibs_mr(vmr)}; // released here
    return 0;
}

} // namespace dibs::provider
