/* STUB: the libgrid command. */
#include "libgrid.h"
#include <stdio.h>
int main(void) { printf("libgrid %s\n", lg_version()); return 0; }
