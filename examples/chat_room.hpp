// SPDX-License-Identifier: MIT
/// @file
/// ChatRoom: the chat protocol (nicknames, commands, broadcast) shared by both chat servers;
/// each server supplies the I/O in its own style through ChatRoom::Member.
#pragma once

#include "escape_controls.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
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

    /// A client connected: greet it and ask for a nickname.
    void join(Member& m) {
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
            std::string names;
            for (Member* o : members_) names += (names.empty() ? "" : ", ") + o->nick;
            m.send("*** users: " + names);
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

    /// Sends `line` to everyone but `from`; a member too far behind is disconnected.
    void broadcast(Member* from, const std::string& line) {
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
