// Subprocesses: run a program with pipes, feed its stdin, collect stdout and the exit status.
#include <bulb/coro.hpp>

#include <cstdio>
#include <string>
#include <vector>

bulb::Task<int> main_task() {
    std::vector<std::string> argv{"tr", "a-z", "A-Z"};
    bulb::Process child = co_await bulb::create_subprocess_exec(argv);
    std::string input = "shout this\n";
    bulb::ProcessOutput output = co_await child.communicate(input);  // writes, closes stdin, reads
    int status = co_await child.wait();
    std::printf("pid %d exited with %d: %s", static_cast<int>(child.pid()), status, output.out.c_str());
    co_return output.out == "SHOUT THIS\n" && status == 0 ? 0 : 1;
}

int main() { return bulb::run(main_task()); }
