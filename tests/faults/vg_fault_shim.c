/*
 * vg_fault_shim: fault injection for the end-to-end tests, preloaded into
 * the stock mosquitto (tests/lib/bench.mjs, Broker opts.preload).
 *
 * While the file named by VG_FAULT_SYNC_FILE exists, fdatasync() and
 * fsync() fail with EIO without doing anything: what a dying disk, or a
 * writeback error the kernel reports once, looks like to the journal's
 * syncer. Remove the file and they work again. Every other process and
 * every other call is untouched.
 *
 * Test-only; never part of the plugin. Thread: any (the path is read once).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fdatasync(int fd);
int fsync(int fd);

static char ctl[4096];

__attribute__((constructor)) static void vg_fault_init(void)
{
	const char *p = getenv("VG_FAULT_SYNC_FILE");

	if(p && strlen(p) < sizeof(ctl)){
		memcpy(ctl, p, strlen(p) + 1);
	}
}

static int failing(void)
{
	return ctl[0] != '\0' && access(ctl, F_OK) == 0;
}

__attribute__((visibility("default"))) int fdatasync(int fd)
{
	static int (*real)(int);

	if(failing()){
		errno = EIO;
		return -1;
	}
	if(real == NULL){
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	}
	return real(fd);
}

__attribute__((visibility("default"))) int fsync(int fd)
{
	static int (*real)(int);

	if(failing()){
		errno = EIO;
		return -1;
	}
	if(real == NULL){
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	}
	return real(fd);
}
