// SPDX-License-Identifier: MIT
/// @file
/// Cross-loop message costs of a LoopGroup (bench/README.md, "All the cores"):
///  (a) throughput: loop 0 posts M messages per iteration to loop 1 (batched: one wake-up per
///      batch); the time per message, and messages per batch;
///  (b) wake-up: one call_on from loop 0 to loop 1 and its reply at a time (ping-pong): the
///      round trip, i.e. two wake-ups of a sleeping loop plus two one-message batches.
///
///     bench_group_messages [MESSAGES]     (default 1,000,000)
#include <bulb/loop_group.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const long total = argc > 1 ? std::atol(argv[1]) : 1'000'000;
    bulb::LoopGroup group({.loops = 2});
    group.start();

    // (a) bursts of 1,000 messages per iteration of loop 0.
    std::atomic<long> received{0};
    long count = 0;  // loop 1 only
    auto t0 = Clock::now();
    group.post(0, [&] {
        auto burst = std::make_shared<bulb::UniqueFunction<void(long)>>();
        *burst = [&, burst](long sent) {
            for (int i = 0; i < 1000 && sent < total; ++i, ++sent)
                group.post(1, [&] {
                    if (++count == total) received.store(count);
                });
            if (sent < total)
                group.loop(0).call_soon([burst, sent] { (*burst)(sent); });
            else
                burst->reset();
        };
        (*burst)(0);
    });
    while (received.load() != total) std::this_thread::sleep_for(std::chrono::microseconds(200));
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    std::printf("(a) %ld messages loop 0 -> 1: %.1f ns/message, %.1f messages/batch (%llu batches)\n", total,
                ns / static_cast<double>(total), static_cast<double>(group.messages_batched()) / static_cast<double>(group.batches_sent()),
                static_cast<unsigned long long>(group.batches_sent()));

    // (b) ping-pong call_on.
    const long rounds = std::max(1000L, total / 100);
    std::atomic<bool> done{false};
    t0 = Clock::now();
    group.post(0, [&] {
        auto step = std::make_shared<bulb::UniqueFunction<void(long)>>();
        *step = [&, step](long left) {
            if (left == 0) {
                done = true;
                step->reset();
                return;
            }
            group.call_on(1, [] { return 1; }).add_done_callback([step, left] { (*step)(left - 1); });
        };
        (*step)(rounds);
    });
    while (!done.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    std::printf("(b) %ld call_on round trips loop 0 -> 1 -> 0: %.0f ns each (two wake-ups)\n", rounds,
                ns / static_cast<double>(rounds));
    group.close();
}
