/*
 * common.h - what every livemod public header shares.
 *
 * LM_EXTERN marks a function of the public API, the only symbols
 * liblivemod-agent.so exports: the library is built with
 * -fvisibility=hidden (as libgit2 is with GIT_EXTERN), so its internal
 * functions (the ledger, the store, the descriptor codecs...) are not ABI.
 * tests/e2e/test_install.sh (t_exports) checks that the exported symbols
 * are exactly the functions the installed headers declare.
 */
#ifndef LIVEMOD_COMMON_H
#define LIVEMOD_COMMON_H

#if defined(__GNUC__)
#define LM_EXTERN(type) __attribute__((visibility("default"))) type
#else
#define LM_EXTERN(type) type
#endif

#endif /* LIVEMOD_COMMON_H */
