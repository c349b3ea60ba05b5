/*
 * lazylib.c - opening a library and resolving its table; see lazylib.h.
 */
#include "lazylib.h"

#include <dlfcn.h>
#include <stdio.h>

void lm_lazy_open(const char *soname, const char *const *names,
		  void **const *slots, size_t n, char *err, size_t errlen)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	err[0] = '\0';
	if (!h) {
		snprintf(err, errlen, "cannot load %s: %s", soname, dlerror());
		return;
	}
	for (i = 0; i < n; i++)
		if (!(*slots[i] = dlsym(h, names[i]))) {
			snprintf(err, errlen, "cannot use %s: %s", soname,
				 dlerror());
			dlclose(h);
			return;
		}
}
