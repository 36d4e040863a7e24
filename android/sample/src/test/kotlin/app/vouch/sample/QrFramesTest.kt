package app.vouch.sample

import com.google.zxing.BarcodeFormat
import com.google.zxing.EncodeHintType
import com.google.zxing.qrcode.QRCodeWriter
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import kotlin.random.Random

/** The sample's QR frame decoder on frames laid out like a camera's Y plane. */
class QrFramesTest {
    private val text = "VOUCH2:3f0c6a1e-2b1d-4c55-9a77-0d9e1c2b3a4f:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

    /** A frame of `width`×`height` grey pixels, rows `rowStride` apart, with the QR at (x, y). */
    private fun frame(width: Int, height: Int, rowStride: Int, x: Int, y: Int, module: Int): ByteArray {
        val matrix = QRCodeWriter().encode(text, BarcodeFormat.QR_CODE, 0, 0, mapOf(EncodeHintType.MARGIN to 4))
        val luma = ByteArray(rowStride * (height - 1) + width) { 0xC8.toByte() } // the last row ends at `width`
        val noise = Random(7)
        for (row in 0 until height) for (col in 0 until width) {
            luma[row * rowStride + col] = (0xC0 + noise.nextInt(32)).toByte()
        }
        for (my in 0 until matrix.height) for (mx in 0 until matrix.width) {
            val dark = matrix[mx, my]
            for (dy in 0 until module) for (dx in 0 until module) {
                val px = x + mx * module + dx
                val py = y + my * module + dy
                luma[py * rowStride + px] = if (dark) 0x18 else 0xE8.toByte()
            }
        }
        return luma
    }

    @Test
    fun `reads the code from a padded camera plane`() {
        val luma = frame(width = 640, height = 480, rowStride = 704, x = 150, y = 60, module = 5)
        assertEquals(text, QrFrames.decode(luma, 640, 480, 704))
    }

    @Test
    fun `a frame without a code is null, not an error`() {
        val blank = ByteArray(320 * 240) { (0x80 + (it % 17)).toByte() }
        assertNull(QrFrames.decode(blank, 320, 240, 320))
    }

    @Test
    fun `a cut-off code is null`() {
        val luma = frame(width = 640, height = 480, rowStride = 640, x = 150, y = 60, module = 5)
        // Only the top 120 rows: the code is not whole.
        assertNull(QrFrames.decode(luma.copyOf(640 * 120), 640, 120, 640))
    }
}
