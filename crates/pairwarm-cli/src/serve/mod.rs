//! `pairwarm serve`: the long-running service (stream consumer, cache, tracker, warmer,
//! detector) and its HTTP side. Only the HTTP module exists so far; the service state it
//! reports on is wired in by the rest of `serve`, through the closures of
//! [`http::HttpState`].

pub mod http;
