/*
 * vg_asan_shim: preloaded after libasan when the end-to-end tests run the
 * stock Debian mosquitto with the ASan-built plugin.
 *
 * Why: with libasan preloaded, ASan initialises lazily on the first
 * malloc. In mosquitto that first malloc happens inside libgpg-error's
 * constructor, in the middle of bindtextdomain(), which holds glibc's
 * gettext lock for writing. ASan's init calls dlerror() -> dcgettext(),
 * which takes and releases the same lock, leaving its reader count at -1.
 * Every later bindtextdomain() (libpq calls it on its first connection)
 * then waits forever. This wrapper forces ASan's init with a malloc before
 * the real bindtextdomain() takes the lock.
 *
 * Test-only; never part of the plugin.
 */
#include <dlfcn.h>
#include <stdlib.h>

char *bindtextdomain(const char *domain, const char *dir);

__attribute__((visibility("default"))) char *bindtextdomain(const char *domain, const char *dir)
{
	static char *(*real)(const char *, const char *);
	/* volatile: the compiler may not drop this malloc/free pair. */
	void *volatile p = malloc(1);

	free(p);
	if(real == NULL){
		real = (char *(*)(const char *, const char *))dlsym(RTLD_NEXT, "bindtextdomain");
	}
	return real ? real(domain, dir) : NULL;
}
