// SPDX-License-Identifier: MIT
/// @file
/// Callback nodes: a per-thread free list keeps call_soon / call_later allocation-free.
#include <bulb/handle.hpp>

#include "loop_impl.hpp"

namespace bulb::detail {
namespace {

constexpr std::size_t max_cached_nodes = 16384;

struct NodeCache {
    CallbackNode* head = nullptr;  // linked through `loop` while cached
    std::size_t size = 0;
    ~NodeCache() {
        while (head) {
            CallbackNode* next = reinterpret_cast<CallbackNode*>(head->loop);
            delete head;
            head = next;
        }
    }
};

thread_local NodeCache cache;

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
    if (cache.size >= max_cached_nodes) {
        delete n;
        return;
    }
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
