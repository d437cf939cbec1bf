import { useRef } from "preact/hooks";

/** An image chosen for the next message, as the `data:` URL it is sent as. */
export interface AttachedImage {
  name: string;
  url: string;
}

/** The server's default `vision.maxInputMb`: larger files are refused here, before any upload. */
export const maxImageBytes = 20 * 2 ** 20;

/** Reads image files as data URLs; other files and oversized ones come back as error lines. */
export async function readImageFiles(
  files: Iterable<File>,
): Promise<{ images: AttachedImage[]; errors: string[] }> {
  const images: AttachedImage[] = [];
  const errors: string[] = [];
  for (const file of files) {
    if (!file.type.startsWith("image/")) {
      errors.push(`${file.name} is not an image.`);
      continue;
    }
    if (file.size > maxImageBytes) {
      errors.push(`${file.name} is over ${maxImageBytes / 2 ** 20} MiB.`);
      continue;
    }
    images.push({ name: file.name === "" ? "pasted image" : file.name, url: await readAsDataUrl(file) });
  }
  return { images, errors };
}

function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === "string" ? reader.result : "");
    reader.onerror = () => reject(reader.error ?? new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

export interface ImageAttachmentsProps {
  images: AttachedImage[];
  onAdd: (files: File[]) => void;
  onRemove: (index: number) => void;
}

/** The attach button (a labelled file input) and thumbnails of what will be sent. */
export function ImageAttachments({ images, onAdd, onRemove }: ImageAttachmentsProps) {
  const picker = useRef<HTMLInputElement>(null);
  return (
    <div class="attachments">
      <input
        ref={picker}
        id="image-input"
        class="visually-hidden"
        type="file"
        accept="image/*"
        multiple
        onChange={(event) => {
          const files = [...(event.currentTarget.files ?? [])];
          event.currentTarget.value = "";
          if (files.length > 0) onAdd(files);
        }}
      />
      <button
        type="button"
        class="attach"
        onClick={() => picker.current?.click()}
        aria-describedby="attach-help"
      >
        Attach image
      </button>
      <span id="attach-help" class="visually-hidden">
        Or drop an image on the message box, or paste one.
      </span>
      {images.length === 0 ? null : (
        <ul class="thumbnails" aria-label="Images to send">
          {images.map((image, index) => (
            <li key={`${index}-${image.name}`} data-testid="attached-image">
              <img src={image.url} alt={image.name} />
              <button
                type="button"
                class="icon"
                aria-label={`Remove ${image.name}`}
                onClick={() => onRemove(index)}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
