// SPDX-License-Identifier: MIT
/// @file
/// Callback nodes: a per-thread free list keeps call_soon / call_later allocation-free.
#include <bulb/handle.hpp>

#include "loop_impl.hpp"

namespace bulb::detail {
namespace {

constexpr std::size_t max_cached_nodes = 16384;

// Trivially destructible on purpose: a thread_local with a destructor is reached through a guard
// variable and __tls_get_addr on every use, which cost as much as the rest of alloc_node() and
// free_node() together. This one is a plain %fs-relative access (initial-exec: a few bytes of
// static TLS, which glibc also sets aside for libraries loaded with dlopen). The cached nodes are
// freed at thread exit by a separate thread_local, registered when the first node is cached.
struct NodeCache {
    CallbackNode* head;  // linked through `loop` while cached
    std::size_t size;
    bool reaper_armed;  // the thread-exit cleanup is registered
    bool dead;          // the thread-exit cleanup ran: nodes freed after it are deleted at once
};

constinit thread_local NodeCache cache __attribute__((tls_model("initial-exec"))) = {};

struct CacheReaper {
    ~CacheReaper() {
        cache.dead = true;
        while (CallbackNode* n = cache.head) {
            cache.head = reinterpret_cast<CallbackNode*>(n->loop);
            delete n;
        }
        cache.size = 0;
    }
};

[[gnu::noinline]] void arm_reaper() {
    thread_local CacheReaper reaper;  // its destructor is registered when control first gets here
    static_cast<void>(reaper);
    cache.reaper_armed = true;
}

}  // namespace

CallbackNode* alloc_node() {
    if (CallbackNode* n = cache.head) {
        cache.head = reinterpret_cast<CallbackNode*>(n->loop);
        --cache.size;
        n->loop = nullptr;
        return n;
    }
    return new CallbackNode;
}

void free_node(CallbackNode* n) noexcept {
    n->fn.reset();
    if (cache.size >= max_cached_nodes || cache.dead) {
        delete n;
        return;
    }
    if (!cache.reaper_armed) arm_reaper();
    n->when = 0;
    n->refs = 1;
    n->cancelled = n->running = n->persistent = false;
    n->loop = reinterpret_cast<LoopImpl*>(cache.head);
    cache.head = n;
    ++cache.size;
}

void cancel_node(CallbackNode* n) noexcept {
    if (n->cancelled) return;
    n->cancelled = true;
    if (n->loop) n->loop->timer_cancelled();
    if (!n->running) n->fn.reset();  // a running callback is reset by the loop once it returns
}

}  // namespace bulb::detail
