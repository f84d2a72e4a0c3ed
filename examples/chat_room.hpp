// SPDX-License-Identifier: MIT
/// @file
/// ChatRoom: the chat protocol (nicknames, commands, broadcast) shared by both chat servers;
/// each server supplies the I/O in its own style through ChatRoom::Member.
#pragma once

#include "escape_controls.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

class ChatRoom {
public:
    /// One connected client, as the room sees it.
    class Member {
    public:
        virtual ~Member() = default;
        /// Queues a line for this client; returns false when the client is too far behind.
        virtual bool send(std::string_view line) = 0;
        /// Ends this client's connection (after what was queued, when possible).
        virtual void disconnect() = 0;
        std::string nick;  // empty until chosen
    };

    explicit ChatRoom(std::string motd = {}) : motd_(std::move(motd)) {}

    // --- chat_server --workers (chat_workers.hpp): one room per loop ---------------------------
    /// Called with every line this room broadcasts for its own members (not for deliver()'s):
    /// the other loops' rooms get it from here.
    std::function<void(const std::string&)> relay;
    /// Told to each client on joining ("loop 1 of 2"); empty: nothing.
    std::string where;
    /// A line broadcast by another loop's room: to every member here.
    void deliver(const std::string& line) { broadcast(nullptr, line, false); }
    /// The nickname `raw` would give `m` (its first line, or /nick NAME) if valid and free in
    /// this room; the server claims it for every loop before on_line sees the line.
    std::optional<std::string> nick_wanted(const Member& m, std::string_view raw) const {
        std::string text = escape_controls(raw);
        std::string_view line = text;
        std::string_view want;
        if (m.nick.empty()) want = line;
        else if (line.starts_with("/nick ")) want = line.substr(6);
        else return std::nullopt;
        if (!valid_nick(want) || taken(want)) return std::nullopt;  // on_line answers it
        return std::string(want);
    }
    /// The claim of nick_wanted() failed: another loop's member has that nickname.
    void nick_taken(Member& m) { m.send(m.nick.empty() ? "*** nickname taken, try again:" : "*** nickname taken"); }
    /// True if `raw` is the /list command (answered with list() from every loop's names).
    static bool is_list(std::string_view raw) { return raw == "/list" || raw.starts_with("/list "); }
    /// Sends `m` the /list answer for `names`.
    static void list(Member& m, const std::vector<std::string>& names) {
        std::string all;
        for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
        m.send("*** users: " + all);
    }

    /// A client connected: greet it and ask for a nickname.
    void join(Member& m) {
        if (!where.empty()) m.send("*** " + where);
        if (!motd_.empty()) m.send("*** " + motd_);
        m.send("*** Welcome! Choose a nickname:");
    }

    /// A line arrived from `m`. Returns false if `m` asked to quit. Control characters in it
    /// are escaped (escape_controls) before anyone sees it: nobody can drive others' terminals
    /// (e.g. "\r" or ESC sequences forging a server notice).
    bool on_line(Member& m, std::string_view raw) {
        std::string text = escape_controls(raw);
        std::string_view line = text;
        if (m.nick.empty()) return choose_nick(m, line), true;
        if (line.starts_with("/")) return command(m, line);
        broadcast(&m, m.nick + ": " + std::string(line));
        return true;
    }

    /// `m`'s connection is gone (quit, EOF, error or too slow).
    void leave(Member& m, std::string_view why = {}) {
        auto it = std::find(members_.begin(), members_.end(), &m);
        if (it == members_.end()) return;
        members_.erase(it);
        broadcast(nullptr, "*** " + m.nick + " left" + (why.empty() ? "" : " (" + std::string(why) + ")"));
    }

    /// The line sent to a client that said nothing for `seconds` before it is disconnected.
    static std::string idle(double seconds) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "*** idle for %g s: disconnecting", seconds);
        return buf;
    }

    /// The line sent to a client whose line was longer than the limit.
    static std::string too_long(std::size_t max) { return "*** line too long (max " + std::to_string(max) + " bytes)"; }

private:
    static bool valid_nick(std::string_view n) {
        return !n.empty() && n.size() <= 32 &&
               std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
    }
    bool taken(std::string_view n) const {
        return std::any_of(members_.begin(), members_.end(), [&](Member* o) { return o->nick == n; });
    }

    void choose_nick(Member& m, std::string_view nick) {
        if (!valid_nick(nick)) {
            m.send("*** invalid nickname (1-32 letters, digits, _ or -), try again:");
        } else if (taken(nick)) {
            m.send("*** nickname taken, try again:");
        } else {
            m.nick = nick;
            members_.push_back(&m);
            m.send("*** you are " + m.nick + "; commands: /nick NAME, /list, /me ACTION, /quit");
            broadcast(&m, "*** " + m.nick + " joined");
        }
    }

    bool command(Member& m, std::string_view line) {
        std::string_view cmd = line.substr(0, line.find(' '));
        std::string_view arg = cmd.size() < line.size() ? line.substr(cmd.size() + 1) : std::string_view();
        if (cmd == "/quit") {
            m.send("*** bye");
            return false;
        }
        if (cmd == "/list") {
            std::vector<std::string> names;
            for (Member* o : members_) names.push_back(o->nick);
            list(m, names);
        } else if (cmd == "/me") {
            broadcast(&m, "* " + m.nick + " " + std::string(arg));
        } else if (cmd == "/nick") {
            if (!valid_nick(arg))
                m.send("*** invalid nickname");
            else if (taken(arg))
                m.send("*** nickname taken");
            else {
                std::string old = std::exchange(m.nick, std::string(arg));
                broadcast(nullptr, "*** " + old + " is now known as " + m.nick);
            }
        } else {
            m.send("*** unknown command " + std::string(cmd));
        }
        return true;
    }

    /// Sends `line` to everyone but `from` (and, with `relayed`, to relay); a member too far
    /// behind is disconnected.
    void broadcast(Member* from, const std::string& line, bool relayed = true) {
        if (relayed && relay) relay(line);
        std::vector<Member*> slow;
        for (Member* o : members_)
            if (o != from && !o->send(line)) slow.push_back(o);
        for (Member* o : slow) {
            o->send("*** you are too slow: disconnecting");
            leave(*o, "too slow");
            o->disconnect();
        }
    }

    std::string motd_;
    std::vector<Member*> members_;
};
