/*
 * Locate points in a grid layer: libgrid's first query.
 *
 *   cc locate_points.c $(pkg-config --cflags --libs libgrid) -o locate_points
 *   ./locate_points cells.shp [ID_FIELD] < points.txt     (lines of "x y" in the layer's CRS)
 *   ./locate_points --synth                               (a generated county, a few points)
 */
#include <libgrid.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    lg_context *ctx;
    if (lg_context_new(NULL, &ctx) != LG_OK)
        return 70;
    lg_layer *cells = NULL;
    lg_error e;
    if (argc > 1 && strcmp(argv[1], "--synth") == 0) {
        lg_synth_options opt = {.seed = 1, .cells = 220};
        e = lg_synth_county(ctx, &opt, &cells);
    } else if (argc > 1) {
        lg_load_options opt = {.id_field = argc > 2 ? argv[2] : NULL};
        e = lg_layer_load(ctx, argv[1], &opt, &cells);
    } else {
        fprintf(stderr, "usage: %s cells.shp [ID_FIELD] < points | %s --synth\n", argv[0], argv[0]);
        return 64;
    }
    if (e != LG_OK) {
        fprintf(stderr, "locate_points: %s\n", lg_context_message(ctx));
        lg_context_free(ctx);
        return 66;
    }
    double box[4];
    lg_layer_bounds(cells, box);
    printf("%zu cells, CRS %s, bounds %.1f %.1f %.1f %.1f\n", lg_layer_count(cells),
           lg_layer_crs(cells) ? lg_layer_crs(cells) : "unknown", box[0], box[1], box[2], box[3]);
    if (argc > 1 && strcmp(argv[1], "--synth") == 0) {
        for (int i = 0; i <= 4; i++) {
            double x = box[0] + (box[2] - box[0]) * i / 4, y = (box[1] + box[3]) / 2;
            printf("%.1f %.1f -> row %lld\n", x, y, (long long)lg_layer_locate(cells, x, y));
        }
    } else {
        double x, y;
        while (scanf("%lf %lf", &x, &y) == 2)
            printf("%.17g %.17g %lld\n", x, y, (long long)lg_layer_locate(cells, x, y));
    }
    lg_layer_free(cells);
    lg_context_free(ctx);
    return 0;
}
