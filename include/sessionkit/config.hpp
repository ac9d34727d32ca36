#pragma once
/// @file config.hpp
/// Symbol visibility: the libraries are built with hidden visibility; public API is marked.

#if defined(SESSIONKIT_BUILDING) && defined(__GNUC__)
#define SESSIONKIT_API __attribute__((visibility("default")))
#else
#define SESSIONKIT_API
#endif
