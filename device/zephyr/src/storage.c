/*
 * Storage: the fixed flash partition chosen as "roller,storage-partition",
 * through the flash map, handed whole to the core (settings pages + session
 * log). Any flash driver with uniform pages that erases to 0xFF fits (the
 * nRF52 NVMC here; Zephyr's flash simulator on a simulated board).
 *
 * Power cuts: an nRF52 write of one word is atomic, so a cut during write()
 * leaves a prefix of the words. A cut during a page erase can leave the page
 * partly erased (the NVMC gives no guarantee): the core sees a bad page
 * header CRC and erases the page again, as port.h allows for such boards.
 */
#include <errno.h>

#include <zephyr/devicetree.h>
#include <zephyr/drivers/flash.h>
#include <zephyr/logging/log.h>
#include <zephyr/storage/flash_map.h>
#include <zephyr/sys/util.h>

#include "board.h"

LOG_MODULE_REGISTER(storage, CONFIG_ROLLER_LOG_LEVEL);

#define STORAGE_PARTITION_ID DT_FIXED_PARTITION_ID(DT_CHOSEN(roller_storage_partition))

static const struct flash_area *storage_area;
static struct port_storage_ops storage_ops;

/* Maps a flash driver error onto the port's -EINVAL / -EIO. */
static int storage_errno(int err)
{
	return err == 0 ? 0 : err == -EINVAL ? -EINVAL : -EIO;
}

static bool storage_in_range(uint32_t offset, size_t len)
{
	return offset <= storage_area->fa_size && len <= storage_area->fa_size - offset;
}

static int storage_erase(void *ctx, uint32_t page)
{
	ARG_UNUSED(ctx);

	if (page >= storage_ops.page_count) {
		return -EINVAL;
	}
	return storage_errno(flash_area_erase(storage_area, (off_t)page * storage_ops.page_size,
					      storage_ops.page_size));
}

static int storage_write(void *ctx, uint32_t offset, const void *buf, size_t len)
{
	ARG_UNUSED(ctx);

	const uint32_t align = storage_ops.write_align;

	if ((offset % align) != 0 || (len % align) != 0 || !storage_in_range(offset, len) ||
	    (len > 0 && offset / storage_ops.page_size !=
				(offset + len - 1) / storage_ops.page_size)) {
		return -EINVAL;
	}
	return storage_errno(flash_area_write(storage_area, (off_t)offset, buf, len));
}

static int storage_read(void *ctx, uint32_t offset, void *buf, size_t len)
{
	ARG_UNUSED(ctx);

	if (!storage_in_range(offset, len)) {
		return -EINVAL;
	}
	return storage_errno(flash_area_read(storage_area, (off_t)offset, buf, len));
}

int board_storage_init(const struct port_storage_ops **ops)
{
	struct flash_pages_info first, last;

	*ops = NULL;
	if (flash_area_open(STORAGE_PARTITION_ID, &storage_area) != 0) {
		return -ENODEV;
	}

	const struct device *flash = flash_area_get_device(storage_area);

	if (flash == NULL || !device_is_ready(flash)) {
		return -ENODEV;
	}
	if (flash_get_page_info_by_offs(flash, storage_area->fa_off, &first) != 0 ||
	    flash_get_page_info_by_offs(flash, storage_area->fa_off + storage_area->fa_size - 1,
					&last) != 0) {
		return -ENODEV;
	}

	const uint32_t page_size = first.size;
	const uint32_t align = flash_area_align(storage_area);

	/* The port's requirements (roller/port.h), checked once here. */
	if (last.size != page_size || first.start_offset != storage_area->fa_off ||
	    page_size < 512 || !IS_POWER_OF_TWO(page_size) || align == 0 || align > 16 ||
	    !IS_POWER_OF_TWO(align) || storage_area->fa_size / page_size < 4 ||
	    flash_get_parameters(flash)->erase_value != 0xff) {
		LOG_ERR("partition unusable: page %u, write block %u, size %zu",
			(unsigned int)page_size, (unsigned int)align, storage_area->fa_size);
		return -EINVAL;
	}

	storage_ops = (struct port_storage_ops){
		.ctx = NULL,
		.page_size = page_size,
		.page_count = storage_area->fa_size / page_size,
		.write_align = align,
		.erase = storage_erase,
		.write = storage_write,
		.read = storage_read,
	};
	LOG_INF("%u pages of %u bytes", (unsigned int)storage_ops.page_count,
		(unsigned int)page_size);
	*ops = &storage_ops;
	return 0;
}
