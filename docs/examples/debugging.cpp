// Debugging: debug mode, and an exception handler that sees what a callback threw (the loop
// survives it).
#include <bulb/bulb.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>

int main() {
    using namespace std::chrono_literals;
    bulb::EventLoop loop;
    loop.set_debug(true);                         // wrong-thread checks, slow-callback warnings
    loop.set_slow_callback_duration(100ms);
    int reported = 0;
    loop.set_exception_handler([&](bulb::EventLoop&, const bulb::ExceptionContext& context) {
        ++reported;
        std::printf("exception handler: %s\n", context.message.c_str());
    });

    loop.call_soon([] { throw std::runtime_error("a callback failed"); });
    bulb::Future<void> done(loop);
    loop.call_later(1ms, [&] { done.set_result(); });  // still runs: the loop survived
    loop.run_until_complete(done);
    loop.close();
    return reported == 1 ? 0 : 1;
}
