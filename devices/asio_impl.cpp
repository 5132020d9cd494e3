#include <asio/impl/src.hpp>  // standalone Asio, compiled once for the whole project
