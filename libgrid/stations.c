/* stations: declared in include/libgrid/ */
#include "internal.h"
