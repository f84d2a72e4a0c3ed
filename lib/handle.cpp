// SPDX-License-Identifier: MIT
/// @file
/// Callback nodes: carved from per-thread 64 KiB slabs, so call_soon / call_later do not go through
/// malloc for each callback.
///
/// Why: with glibc, allocating and freeing one node per callback was 57 % of the instructions of
/// scheduling and running 1,000,000 callbacks (bench/ (a)), and a third of the time of 200,000
/// timers (b), once more callbacks were pending than a free list could keep.
///
/// How: each thread owns the slabs it carved. A node finds its slab by masking its address. The
/// owning thread allocates and frees without atomics or locks (the loop thread, in practice).
/// A node freed on another thread (an EventLoop destroyed on a thread other than the one that ran
/// it, say) goes under a global mutex to its owner's "remote" list, which the owner takes back
/// when it next needs a slab. When a thread exits, its empty slabs are freed and the others become
/// orphans (owner null): their nodes are then freed under the mutex and the slab with the last one.
/// Up to max_empty_slabs empty slabs (1 MiB) stay cached per thread; the rest go back to malloc.
#include <bulb/handle.hpp>

#include "loop_impl.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define BULB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define BULB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define BULB_POISON(p, n) static_cast<void>(0)
#define BULB_UNPOISON(p, n) static_cast<void>(0)
#endif

namespace bulb::detail {
namespace {

constexpr std::size_t slab_bytes = 64 * 1024;  // also the slab alignment
constexpr std::size_t max_empty_slabs = 16;

struct NodeCache;
struct Slab;

struct FreeSlot {
    FreeSlot* next;
};

struct SlabHeader {
    std::atomic<NodeCache*> owner;  // the thread that carved it; null once that thread has exited
    FreeSlot* free;                 // freed slots (owner thread only; under slab_mutex once orphaned)
    std::uint32_t live;             // slots handed out and not freed yet
    std::uint32_t fresh;            // slots from this index on were never handed out
    Slab* avail_prev;               // the owner's slabs with room, other than its current one
    Slab* avail_next;
    Slab* all_prev;                 // every slab of the owner
    Slab* all_next;
    bool in_avail;
};

constexpr std::size_t slot_bytes = sizeof(CallbackNode);
constexpr std::size_t slots_offset =
    (sizeof(SlabHeader) + alignof(CallbackNode) - 1) / alignof(CallbackNode) * alignof(CallbackNode);
constexpr std::uint32_t slots_per_slab = static_cast<std::uint32_t>((slab_bytes - slots_offset) / slot_bytes);
static_assert(slots_per_slab > 100);

struct Slab {
    SlabHeader h;
    void* slot(std::uint32_t i) noexcept {
        return reinterpret_cast<unsigned char*>(this) + slots_offset + std::size_t(i) * slot_bytes;
    }
};

Slab* slab_of(void* node) noexcept {
    return reinterpret_cast<Slab*>(reinterpret_cast<std::uintptr_t>(node) & ~std::uintptr_t(slab_bytes - 1));
}

// Trivially destructible on purpose: a thread_local with a destructor is reached through a guard
// variable and __tls_get_addr on every use. This one is a plain %fs-relative access (initial-exec:
// a few bytes of static TLS, which glibc also sets aside for libraries loaded with dlopen). Its
// thread-exit cleanup is a separate thread_local, registered when the thread carves its first slab.
struct NodeCache {
    Slab* current;                     // slab allocated from
    Slab* avail;                       // slabs with room
    Slab* all;                         // every slab owned
    std::size_t empty;                 // empty slabs kept (in `avail`)
    FreeSlot* remote;                  // slots freed by other threads (under slab_mutex)
    std::atomic<bool> remote_pending;  // `remote` is not empty
    bool reaper_armed;                 // the thread-exit cleanup is registered
    bool dead;                         // the thread-exit cleanup ran
};

constinit thread_local NodeCache cache __attribute__((tls_model("initial-exec"))) = {};

constinit std::mutex slab_mutex;  // remote frees, orphan slabs, thread exit
constinit Slab* orphan_current = nullptr;  // carved from by threads past their cleanup (slab_mutex)

Slab* new_slab(NodeCache* owner) {
    void* mem = std::aligned_alloc(slab_bytes, slab_bytes);
    if (!mem) throw std::bad_alloc();
    Slab* s = ::new (mem) Slab{};
    s->h.owner.store(owner, std::memory_order_relaxed);
    BULB_POISON(s->slot(0), std::size_t(slots_per_slab) * slot_bytes);
    return s;
}

void delete_slab(Slab* s) noexcept {
    BULB_UNPOISON(s->slot(0), std::size_t(slots_per_slab) * slot_bytes);
    std::free(s);
}

// Takes a slot from `s` (null when it is full).
void* carve(Slab* s) noexcept {
    void* p;
    if (FreeSlot* f = s->h.free) {
        BULB_UNPOISON(f, slot_bytes);
        s->h.free = f->next;
        p = f;
    } else if (s->h.fresh < slots_per_slab) {
        p = s->slot(s->h.fresh++);
        BULB_UNPOISON(p, slot_bytes);
    } else {
        return nullptr;
    }
    ++s->h.live;
    return p;
}

void push_slot(Slab* s, void* p) noexcept {
    auto* f = static_cast<FreeSlot*>(p);
    f->next = s->h.free;
    s->h.free = f;
    BULB_POISON(f, slot_bytes);
}

// --- the owner's lists (owner thread only) -------------------------------------------------

void avail_push(NodeCache& c, Slab* s) noexcept {
    s->h.avail_prev = nullptr;
    s->h.avail_next = c.avail;
    if (c.avail) c.avail->h.avail_prev = s;
    c.avail = s;
    s->h.in_avail = true;
}

void avail_unlink(NodeCache& c, Slab* s) noexcept {
    (s->h.avail_prev ? s->h.avail_prev->h.avail_next : c.avail) = s->h.avail_next;
    if (s->h.avail_next) s->h.avail_next->h.avail_prev = s->h.avail_prev;
    s->h.in_avail = false;
}

void all_push(NodeCache& c, Slab* s) noexcept {
    s->h.all_prev = nullptr;
    s->h.all_next = c.all;
    if (c.all) c.all->h.all_prev = s;
    c.all = s;
}

void all_unlink(NodeCache& c, Slab* s) noexcept {
    (s->h.all_prev ? s->h.all_prev->h.all_next : c.all) = s->h.all_next;
    if (s->h.all_next) s->h.all_next->h.all_prev = s->h.all_prev;
}

// Returns a slot of a slab this thread owns.
void free_local(NodeCache& c, Slab* s, void* p) noexcept {
    if (--s->h.live == 0) {  // empty: reset it, keep a few, give the rest back
        BULB_POISON(p, slot_bytes);
        s->h.free = nullptr;
        s->h.fresh = 0;
        if (s == c.current) return;
        if (c.empty < max_empty_slabs) {
            if (!s->h.in_avail) avail_push(c, s);
            ++c.empty;
            return;
        }
        if (s->h.in_avail) avail_unlink(c, s);
        all_unlink(c, s);
        delete_slab(s);
        return;
    }
    push_slot(s, p);
    if (!s->h.in_avail && s != c.current) avail_push(c, s);
}

// Returns a slot of an orphan slab (slab_mutex held).
void free_orphan(Slab* s, void* p) noexcept {
    if (--s->h.live == 0 && s != orphan_current) {
        delete_slab(s);
        return;
    }
    push_slot(s, p);
}

void take_remote(NodeCache& c) noexcept {
    FreeSlot* list;
    {
        std::lock_guard lock(slab_mutex);
        list = c.remote;
        c.remote = nullptr;
        c.remote_pending.store(false, std::memory_order_relaxed);
    }
    while (list) {
        FreeSlot* next = list->next;
        free_local(c, slab_of(list), list);
        list = next;
    }
}

struct CacheReaper {
    ~CacheReaper() {
        NodeCache& c = cache;
        std::lock_guard lock(slab_mutex);  // held throughout: no remote free may slip in between
        for (FreeSlot* f = std::exchange(c.remote, nullptr); f;) {
            FreeSlot* next = f->next;
            free_local(c, slab_of(f), f);
            f = next;
        }
        c.remote_pending.store(false, std::memory_order_relaxed);
        for (Slab* s = c.all; s;) {
            Slab* next = s->h.all_next;
            if (s->h.live == 0)
                delete_slab(s);
            else
                s->h.owner.store(nullptr, std::memory_order_relaxed);  // freed by whoever frees its last node
            s = next;
        }
        c.current = c.avail = c.all = nullptr;
        c.empty = 0;
        c.dead = true;
    }
};

[[gnu::noinline]] void arm_reaper() {
    thread_local CacheReaper reaper;  // its destructor is registered when control first gets here
    static_cast<void>(reaper);
    cache.reaper_armed = true;
}

// A thread past its cleanup (in a later thread_local or static destructor) shares one orphan slab.
[[gnu::noinline]] void* alloc_orphan() {
    std::lock_guard lock(slab_mutex);
    void* p = orphan_current ? carve(orphan_current) : nullptr;
    if (!p) {
        Slab* old = orphan_current;
        orphan_current = new_slab(nullptr);
        if (old && old->h.live == 0) delete_slab(old);
        p = carve(orphan_current);
    }
    return p;
}

[[gnu::noinline]] void* alloc_slow() {
    NodeCache& c = cache;
    if (c.dead) return alloc_orphan();
    if (c.remote_pending.load(std::memory_order_acquire)) {
        take_remote(c);
        if (c.current)
            if (void* p = carve(c.current)) return p;
    }
    if (Slab* s = c.avail) {
        avail_unlink(c, s);
        if (s->h.live == 0) --c.empty;
        c.current = s;
        return carve(s);
    }
    if (!c.reaper_armed) arm_reaper();
    Slab* s = new_slab(&c);
    all_push(c, s);
    c.current = s;
    return carve(s);
}

}  // namespace

CallbackNode* alloc_node() {
    void* p = cache.current ? carve(cache.current) : nullptr;
    if (!p) p = alloc_slow();
    return ::new (p) CallbackNode;
}

void free_node(CallbackNode* n) noexcept {
    n->fn.reset();  // first: destroying the captures may schedule or free other nodes
    n->~CallbackNode();
    Slab* s = slab_of(n);
    NodeCache& c = cache;
    if (s->h.owner.load(std::memory_order_relaxed) == &c) {
        free_local(c, s, n);
        return;
    }
    std::lock_guard lock(slab_mutex);
    if (NodeCache* owner = s->h.owner.load(std::memory_order_relaxed)) {  // alive: it takes it back
        auto* f = reinterpret_cast<FreeSlot*>(n);
        f->next = owner->remote;
        owner->remote = f;
        owner->remote_pending.store(true, std::memory_order_release);
    } else {
        free_orphan(s, n);
    }
}

void cancel_node(CallbackNode* n) noexcept {
    if (n->cancelled) return;
    n->cancelled = true;
    if (n->loop) n->loop->timer_cancelled();
    if (!n->running) n->fn.reset();  // a running callback is reset by the loop once it returns
}

}  // namespace bulb::detail
