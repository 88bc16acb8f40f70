#include "server/metrics/metrics_exposer.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace lmeye {
namespace {

constexpr size_t kMaxRequestBytes = 8192;  // a GET's request line and headers

absl::Status Unavailable(const std::string& listen, const std::string& why) {
  return absl::UnavailableError(
      absl::StrCat("metrics_listen: cannot serve /metrics on ", listen, ": ", why));
}

std::string Response(const char* status, const char* content_type, const std::string& body) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsExposer>> MetricsExposer::Start(
    const std::string& listen, const Metrics& metrics, const MetricsExposerOptions& options) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Unavailable(listen, "expected HOST:PORT");
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* addresses = nullptr;
  if (const int rc =
          getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &addresses);
      rc != 0) {
    return Unavailable(listen, gai_strerror(rc));
  }
  std::unique_ptr<MetricsExposer> exposer(new MetricsExposer());
  exposer->options_ = options;
  exposer->options_.max_connections = std::max(1, options.max_connections);
  std::string error = "no address";
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
      exposer->listen_fd_ = fd;
      break;
    }
    error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(addresses);
  if (exposer->listen_fd_ < 0) return Unavailable(listen, error);

  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(exposer->listen_fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  exposer->port_ =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (pipe2(exposer->wake_fds_, O_CLOEXEC) != 0) {
    close(exposer->listen_fd_);
    exposer->listen_fd_ = -1;
    return Unavailable(listen, std::strerror(errno));
  }
  exposer->registry_ = metrics.registry();
  exposer->thread_ = std::thread([e = exposer.get()] { e->Serve(); });
  return exposer;
}

MetricsExposer::~MetricsExposer() {
  stop_ = true;
  if (wake_fds_[1] >= 0) {
    const char byte = 0;
    (void)!write(wake_fds_[1], &byte, 1);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : {listen_fd_, wake_fds_[0], wake_fds_[1]}) {
    if (fd >= 0) close(fd);
  }
}

void MetricsExposer::Serve() {
  std::vector<pollfd> fds;
  while (!stop_) {
    fds.assign({{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}});
    for (const Connection& c : connections_) {
      fds.push_back({c.fd, static_cast<short>(c.response.empty() ? POLLIN : POLLOUT), 0});
    }
    const int ready = poll(fds.data(), fds.size(), PollTimeoutMs(Clock::now()));
    if (ready < 0 && errno != EINTR) break;
    if (stop_ || (fds[1].revents & POLLIN)) break;
    // Connections first: AcceptAll() may evict one, which would shift the indices.
    std::vector<Connection> kept;
    kept.reserve(connections_.size());
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < connections_.size(); ++i) {
      Connection& c = connections_[i];
      const bool alive = (ready <= 0 || fds[i + 2].revents == 0 || Progress(c)) && InTime(c, now);
      if (alive) {
        kept.push_back(std::move(c));
      } else {
        close(c.fd);
      }
    }
    connections_ = std::move(kept);
    if (ready > 0 && (fds[0].revents & POLLIN)) AcceptAll();
  }
  for (const Connection& c : connections_) close(c.fd);
  connections_.clear();
}

void MetricsExposer::AcceptAll() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: no more waiting; anything else: try again on the next poll()
    }
    if (static_cast<int>(connections_.size()) >= options_.max_connections) {
      // Full: drop the oldest that is still sending its request (idle or slow; a real scraper
      // sends it at once), else the oldest answer in flight, so new scrapes always get in.
      auto victim = std::find_if(connections_.begin(), connections_.end(),
                                 [](const Connection& c) { return c.response.empty(); });
      if (victim == connections_.end()) victim = connections_.begin();
      close(victim->fd);
      connections_.erase(victim);
    }
    Connection c;
    c.fd = fd;
    c.opened = c.last_read = Clock::now();
    connections_.push_back(std::move(c));
  }
}

bool MetricsExposer::Progress(Connection& c) {
  if (c.response.empty()) {
    char buffer[1024];
    while (true) {
      const ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;  // more later
      if (n <= 0) return false;  // closed or failed before a whole request
      c.request.append(buffer, static_cast<size_t>(n));
      c.last_read = Clock::now();
      if (c.request.find("\r\n\r\n") != std::string::npos || c.request.size() >= kMaxRequestBytes) {
        break;
      }
    }
    c.response = Answer(c.request);
    c.answered = Clock::now();
    // Write at once: a small answer usually fits the socket buffer.
  }
  while (c.sent < c.response.size()) {
    const ssize_t n =
        send(c.fd, c.response.data() + c.sent, c.response.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    c.sent += static_cast<size_t>(n);
  }
  return false;  // answered in full: close
}

bool MetricsExposer::InTime(const Connection& c, Clock::time_point now) const {
  if (!c.response.empty()) return now - c.answered < options_.write_timeout;
  return now - c.opened < options_.request_timeout && now - c.last_read < options_.idle_timeout;
}

int MetricsExposer::PollTimeoutMs(Clock::time_point now) const {
  if (connections_.empty()) return -1;
  Clock::time_point next = Clock::time_point::max();
  for (const Connection& c : connections_) {
    if (!c.response.empty()) {
      next = std::min(next, c.answered + options_.write_timeout);
    } else {
      next = std::min(
          {next, c.opened + options_.request_timeout, c.last_read + options_.idle_timeout});
    }
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
}

std::string MetricsExposer::Answer(const std::string& request) const {
  const std::string line = request.substr(0, request.find("\r\n"));
  // "GET /metrics HTTP/1.1"; a query string is ignored.
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) {
    return Response("400 Bad Request", "text/plain", "bad request\n");
  }
  const std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  if (path != "/metrics") {
    return Response("404 Not Found", "text/plain", "metrics are at /metrics\n");
  }
  if (method != "GET" && method != "HEAD") {
    return Response("405 Method Not Allowed", "text/plain", "GET /metrics\n");
  }
  const std::string body = prometheus::TextSerializer().Serialize(registry_->Collect());
  if (method == "HEAD") {
    // Content-Length of the body a GET would get.
    return absl::StrCat(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
        "charset=utf-8\r\nContent-Length: ",
        body.size(), "\r\nConnection: close\r\n\r\n");
  }
  return Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
}

}  // namespace lmeye
