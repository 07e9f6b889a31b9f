/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Go programs under Wine.
 *
 * Go 1.22 and later read random bytes at start-up through ProcessPrng, which
 * Windows 10 and later export from bcryptprimitives.dll. Wine 8.0 (Debian 12's
 * wine64) has no such DLL, so every Go binary dies with "fatal error:
 * bcryptprimitives.dll not found" before main runs. This file exports only
 * ProcessPrng and fills the buffer through advapi32's SystemFunction036
 * (RtlGenRandom), which Wine implements. .ci/wine/setup builds it with mingw-w64
 * and installs it into the test prefix's system32; it is never part of mpgen.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len);

/* ProcessPrng never fails on Windows; Go treats FALSE as fatal. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* SystemFunction036 takes a ULONG length, so a larger request goes in pieces. */
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
