/* derive: declared in include/libgrid/derive.h */
#include "internal.h"
